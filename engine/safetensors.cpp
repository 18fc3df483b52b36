#include "engine/safetensors.h"

#include <algorithm>
#include <cstring>
#include <filesystem>
#include <fstream>

#include <nlohmann/json.hpp>

#include "engine/atomic_file.h"
#include "engine/error.h"

namespace cnne {
namespace {

constexpr uint64_t kMaxHeaderBytes = 100u << 20;  // the reference implementation's limit

bool parse_dtype(const std::string& text, DType& out) {
  for (DType t : {DType::F32, DType::I32, DType::U8, DType::I64, DType::BF16, DType::F16})
    if (text == dtype_name(t)) {
      out = t;
      return true;
    }
  return false;
}

uint64_t read_le_u64(const uint8_t* p) {
  uint64_t v = 0;
  for (int i = 7; i >= 0; --i) v = (v << 8) | p[i];
  return v;
}

}  // namespace

Tensor SafetensorsTensor::view() const {
  Tensor t;
  t.data = const_cast<uint8_t*>(bytes.data());
  t.shape = shape;
  t.dtype = dtype;
  return t;
}

const SafetensorsTensor* Safetensors::find(const std::string& name) const {
  for (const auto& t : tensors)
    if (t.name == name) return &t;
  return nullptr;
}

void Safetensors::add(const std::string& name, const Tensor& t) {
  SafetensorsTensor entry{name, t.dtype, t.shape, std::vector<uint8_t>(t.bytes())};
  if (t.bytes()) std::memcpy(entry.bytes.data(), t.data, t.bytes());
  tensors.push_back(std::move(entry));
}

void save_safetensors(const std::string& path, const Safetensors& file) {
  nlohmann::json header = nlohmann::json::object();
  uint64_t offset = 0;
  for (const auto& t : file.tensors) {
    if (t.name == "__metadata__") throw CheckpointError(path + ": tensor named __metadata__");
    std::vector<int64_t> shape;
    for (int i = 0; i < t.shape.rank(); ++i) shape.push_back(t.shape[i]);
    header[t.name] = {{"dtype", dtype_name(t.dtype)},
                      {"shape", shape},
                      {"data_offsets", {offset, offset + t.bytes.size()}}};
    offset += t.bytes.size();
  }
  if (!file.metadata.empty()) header["__metadata__"] = file.metadata;
  std::string text = header.dump();
  text.append((8 - text.size() % 8) % 8, ' ');  // keep the data 8-byte aligned

  uint8_t size_bytes[8];
  for (int i = 0; i < 8; ++i) size_bytes[i] = static_cast<uint8_t>(text.size() >> (8 * i));
  std::vector<std::span<const uint8_t>> pieces{
      {size_bytes, 8}, {reinterpret_cast<const uint8_t*>(text.data()), text.size()}};
  for (const auto& t : file.tensors) pieces.emplace_back(t.bytes.data(), t.bytes.size());
  try {
    write_file_atomically(path, pieces);
  } catch (const CheckpointError&) {
    throw;
  } catch (const Error& e) {
    throw CheckpointError(std::string("cannot write checkpoint: ") + e.what());
  }
}

std::vector<uint8_t> read_tensor_file_bytes(const std::string& path) {
  std::error_code ec;
  if (!std::filesystem::is_regular_file(path, ec)) throw CheckpointError(path + ": no such file");
  std::ifstream in(path, std::ios::binary);
  if (!in) throw CheckpointError(path + ": cannot open");
  std::vector<uint8_t> raw((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  if (in.bad()) throw CheckpointError(path + ": read failed");
  return raw;
}

Safetensors load_safetensors(const std::string& path) {
  return parse_safetensors(read_tensor_file_bytes(path), path);
}

Safetensors parse_safetensors(const std::vector<uint8_t>& raw, const std::string& path) {
  auto fail = [&](const std::string& why) -> CheckpointError {
    return CheckpointError(path + ": " + why);
  };
  if (raw.size() < 8)
    throw fail("truncated: " + std::to_string(raw.size()) +
               " bytes, a safetensors file starts with an 8-byte header size");
  const uint64_t header_size = read_le_u64(raw.data());
  if (header_size > kMaxHeaderBytes || header_size > raw.size() - 8)
    throw fail("header size " + std::to_string(header_size) + " exceeds the file (" +
               std::to_string(raw.size()) + " bytes): truncated or not a safetensors file");
  const std::string text(reinterpret_cast<const char*>(raw.data() + 8), header_size);
  nlohmann::json header;
  try {
    header = nlohmann::json::parse(text);
  } catch (const nlohmann::json::exception& e) {
    throw fail(std::string("header is not valid JSON (") + e.what() + ")");
  }
  if (!header.is_object()) throw fail("header is not a JSON object");

  const uint64_t data_size = raw.size() - 8 - header_size;
  const uint8_t* data = raw.data() + 8 + header_size;
  Safetensors out;
  std::vector<std::pair<uint64_t, uint64_t>> ranges;
  for (const auto& [name, entry] : header.items()) {
    if (name == "__metadata__") {
      if (!entry.is_object()) throw fail("__metadata__ is not an object");
      for (const auto& [key, value] : entry.items()) {
        if (!value.is_string()) throw fail("__metadata__." + key + " is not a string");
        out.metadata[key] = value.get<std::string>();
      }
      continue;
    }
    const std::string where = "tensor '" + name + "'";
    if (!entry.is_object() || !entry.contains("dtype") || !entry.contains("shape") ||
        !entry.contains("data_offsets"))
      throw fail(where + " lacks dtype, shape or data_offsets");
    SafetensorsTensor t;
    t.name = name;
    if (!entry["dtype"].is_string() || !parse_dtype(entry["dtype"].get<std::string>(), t.dtype))
      throw fail(where + " has dtype " + entry["dtype"].dump() +
                 ", expected F32, BF16, F16, I32, I64 or U8");
    const auto& shape = entry["shape"];
    if (!shape.is_array() || shape.size() > static_cast<size_t>(Shape::kMaxRank))
      throw fail(where + " has a bad shape " + shape.dump());
    uint64_t numel = 1;
    std::vector<int64_t> dims;
    for (const auto& d : shape) {
      if (!d.is_number_unsigned() || d.get<uint64_t>() > (1ull << 40))
        throw fail(where + " has a bad shape " + shape.dump());
      dims.push_back(d.get<int64_t>());
      numel *= d.get<uint64_t>();
      if (numel > (1ull << 40)) throw fail(where + " is too large");
    }
    t.shape = Shape::of(dims);
    const auto& offsets = entry["data_offsets"];
    if (!offsets.is_array() || offsets.size() != 2 || !offsets[0].is_number_unsigned() ||
        !offsets[1].is_number_unsigned())
      throw fail(where + " has bad data_offsets " + offsets.dump());
    const uint64_t begin = offsets[0].get<uint64_t>(), end = offsets[1].get<uint64_t>();
    if (begin > end || end > data_size)
      throw fail(where + " has data_offsets [" + std::to_string(begin) + ", " +
                 std::to_string(end) + "] outside the " + std::to_string(data_size) +
                 " data bytes: truncated file");
    if (end - begin != numel * dtype_size(t.dtype))
      throw fail(where + " holds " + std::to_string(end - begin) + " bytes but shape " +
                 t.shape.str() + " of " + dtype_name(t.dtype) + " needs " +
                 std::to_string(numel * dtype_size(t.dtype)));
    t.bytes.assign(data + begin, data + end);
    ranges.emplace_back(begin, end);
    out.tensors.push_back(std::move(t));
  }
  std::sort(ranges.begin(), ranges.end());
  uint64_t covered = 0;
  for (const auto& [begin, end] : ranges) {
    if (begin != covered)
      throw fail("tensor data overlaps or leaves a hole at byte " +
                 std::to_string(std::min(begin, covered)));
    covered = end;
  }
  if (covered != data_size)
    throw fail(std::to_string(data_size - covered) + " trailing bytes after the last tensor");
  return out;
}

}  // namespace cnne
