#include "tests/zip_writer.h"

#include <span>

#include "engine/zip_archive.h"
#include "engine/zip_writer.h"

namespace cnne::test {

std::vector<uint8_t> make_zip(const std::vector<ZipInput>& entries, bool zip64_end) {
  ZipWriter zip(zip64_end);
  for (const ZipInput& e : entries) zip.add(e.name, e.bytes);
  std::vector<uint8_t> out;
  for (std::span<const uint8_t> piece : zip.finish())
    out.insert(out.end(), piece.begin(), piece.end());
  return out;
}

std::vector<ZipInput> read_zip_entries(const std::vector<uint8_t>& archive) {
  const ZipArchive zip(archive, "archive");
  std::vector<ZipInput> out;
  for (const ZipEntry& e : zip.entries()) {
    const std::span<const uint8_t> bytes = zip.read(e);
    out.push_back({e.name, std::vector<uint8_t>(bytes.begin(), bytes.end())});
  }
  return out;
}

}  // namespace cnne::test
