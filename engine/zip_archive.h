#pragma once
// A read-only view of a ZIP archive held in memory, for the files torch.save
// writes (engine/torch_file.h): entries stored without compression, the
// central directory at the end, ZIP64 records where sizes or counts need them
// (PyTorch always writes the ZIP64 end records). Only what such a reader
// needs: find an entry by name, get its bytes (checked against its CRC-32).
// Every offset and size is checked against the buffer; errors name the path.
#include <cstdint>
#include <span>
#include <string>
#include <vector>

namespace cnne {

struct ZipEntry {
  std::string name;
  uint16_t method = 0;  // 0: stored; anything else is refused on read
  uint32_t crc32 = 0;
  uint64_t size = 0;  // uncompressed bytes
  uint64_t compressed_size = 0;
  uint64_t local_header = 0;  // offset of the entry's local header
};

class ZipArchive {
 public:
  // Parses the central directory of `bytes` (which must outlive the archive).
  // Throws CheckpointError "<path>: ..." when it is not a well-formed ZIP.
  ZipArchive(std::span<const uint8_t> bytes, std::string path);

  const std::vector<ZipEntry>& entries() const { return entries_; }
  const ZipEntry* find(const std::string& name) const;
  // The entry's stored bytes, bounds- and CRC-checked. Throws for compressed
  // entries and for damaged ones, naming the entry.
  std::span<const uint8_t> read(const ZipEntry& entry) const;

 private:
  std::span<const uint8_t> bytes_;
  std::string path_;
  std::vector<ZipEntry> entries_;
};

// True when `bytes` start like a ZIP archive (a local file header).
bool looks_like_zip(std::span<const uint8_t> bytes);

// The CRC-32 ZIP stores for each entry (zlib's, over any length).
uint32_t zip_crc32(std::span<const uint8_t> bytes);

}  // namespace cnne
