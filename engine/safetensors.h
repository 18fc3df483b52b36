#pragma once
// The safetensors format (https://github.com/huggingface/safetensors):
//   8 bytes  little-endian u64 N, the header size
//   N bytes  JSON: {"name": {"dtype": "F32", "shape": [..], "data_offsets": [b, e]}, ...,
//                   "__metadata__": {"key": "string value", ...}}, space-padded
//   rest     the tensors' raw little-endian bytes, offsets relative to its start,
//            contiguous, no holes, no overlaps
// docs/CHECKPOINT.md describes how cnnengine uses it.
#include <cstdint>
#include <map>
#include <string>
#include <vector>

#include "engine/tensor.h"

namespace cnne {

struct SafetensorsTensor {
  std::string name;
  DType dtype = DType::F32;
  Shape shape;
  std::vector<uint8_t> bytes;  // numel * dtype_size(dtype) bytes

  // A host view of the bytes (read-only use).
  Tensor view() const;
};

struct Safetensors {
  std::vector<SafetensorsTensor> tensors;  // as added; sorted by name when loaded
  std::map<std::string, std::string> metadata;

  const SafetensorsTensor* find(const std::string& name) const;
  // Appends a copy of host tensor t under `name`.
  void add(const std::string& name, const Tensor& t);
};

// Writes atomically (engine/atomic_file.h). Throws CheckpointError naming path.
void save_safetensors(const std::string& path, const Safetensors& file);
// Reads and validates every header field and offset. Throws CheckpointError
// naming the path and what is wrong (truncated, bad header, bad offsets, ...).
Safetensors load_safetensors(const std::string& path);
// A whole file's bytes; CheckpointError naming path when missing or unreadable.
std::vector<uint8_t> read_tensor_file_bytes(const std::string& path);
// The same checks on bytes already in memory; `path` names them in errors.
Safetensors parse_safetensors(const std::vector<uint8_t>& bytes, const std::string& path);

}  // namespace cnne
