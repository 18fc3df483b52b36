#include "engine/tensor_file.h"

#include <vector>

#include "engine/torch_file.h"
#include "engine/zip_archive.h"

namespace cnne {

Safetensors load_tensor_file(const std::string& path, bool* torch_format) {
  const std::vector<uint8_t> raw = read_tensor_file_bytes(path);
  const bool torch = looks_like_zip(raw) || looks_like_legacy_torch_file(raw);
  if (torch_format) *torch_format = torch;
  if (torch) return parse_torch_file(raw, path);
  return parse_safetensors(raw, path);
}

}  // namespace cnne
