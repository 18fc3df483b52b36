#pragma once
// ProtobufWriter: the protocol-buffer wire format, enough to write ONNX files
// (engine/onnx_export.h) without the protobuf library: varints, fixed 32-bit
// floats and length-delimited fields (strings, bytes, nested messages). A
// nested message is written into a writer of its own and added as bytes.
#include <cstdint>
#include <span>
#include <string>
#include <vector>

namespace cnne {

class ProtobufWriter {
 public:
  // Field `field` as a varint (int32, int64, enum, bool; negatives as 10-byte two's complement).
  void varint_field(int field, int64_t value);
  // Field `field` as a fixed 32-bit IEEE float (wire type 5).
  void float_field(int field, float value);
  // Field `field` as length-delimited bytes: a string, raw bytes or a nested message.
  void bytes_field(int field, std::span<const uint8_t> bytes);
  void string_field(int field, const std::string& text);
  void message_field(int field, const ProtobufWriter& message) {
    bytes_field(field, message.bytes());
  }

  const std::vector<uint8_t>& bytes() const { return bytes_; }

 private:
  void varint(uint64_t value);
  void tag(int field, int wire_type);

  std::vector<uint8_t> bytes_;
};

}  // namespace cnne
