#pragma once
// Writes a ZIP archive the way torch.save does (engine/torch_file.h): entries
// stored uncompressed, each one's data aligned to 64 bytes by padding its local
// header's extra field (PyTorch's reader memory-maps aligned records), a
// central directory, and the ZIP64 end records PyTorch always writes. The
// archive comes out as pieces for write_file_atomically, so large tensor data
// is written from where it lies, not copied.
#include <cstdint>
#include <deque>
#include <span>
#include <string>
#include <vector>

namespace cnne {

class ZipWriter {
 public:
  explicit ZipWriter(bool zip64_end = true) : zip64_end_(zip64_end) {}

  // Adds an entry; `bytes` must stay alive until the pieces are written.
  void add(const std::string& name, std::span<const uint8_t> bytes);
  // The whole archive, in order: headers (owned here) and the entries' data.
  std::vector<std::span<const uint8_t>> finish();

 private:
  std::vector<uint8_t>& own();

  bool zip64_end_;
  uint64_t offset_ = 0;  // bytes of the archive so far
  std::vector<std::span<const uint8_t>> pieces_;
  std::deque<std::vector<uint8_t>> owned_;  // stable addresses for the header pieces
  std::vector<uint8_t> directory_;
  uint64_t count_ = 0;
};

}  // namespace cnne
