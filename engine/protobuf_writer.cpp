#include "engine/protobuf_writer.h"

#include <cstring>

namespace cnne {

void ProtobufWriter::varint(uint64_t value) {
  while (value >= 0x80) {
    bytes_.push_back(static_cast<uint8_t>(value | 0x80));
    value >>= 7;
  }
  bytes_.push_back(static_cast<uint8_t>(value));
}

void ProtobufWriter::tag(int field, int wire_type) {
  varint((static_cast<uint64_t>(field) << 3) | static_cast<uint64_t>(wire_type));
}

void ProtobufWriter::varint_field(int field, int64_t value) {
  tag(field, 0);
  varint(static_cast<uint64_t>(value));
}

void ProtobufWriter::float_field(int field, float value) {
  tag(field, 5);
  uint32_t bits = 0;
  std::memcpy(&bits, &value, sizeof bits);
  for (int i = 0; i < 4; ++i)
    bytes_.push_back(static_cast<uint8_t>(bits >> (8 * i)));  // little-endian
}

void ProtobufWriter::bytes_field(int field, std::span<const uint8_t> data) {
  tag(field, 2);
  varint(data.size());
  bytes_.insert(bytes_.end(), data.begin(), data.end());
}

void ProtobufWriter::string_field(int field, const std::string& text) {
  bytes_field(field,
              std::span<const uint8_t>(reinterpret_cast<const uint8_t*>(text.data()), text.size()));
}

}  // namespace cnne
