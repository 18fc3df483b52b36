#pragma once
// ZIP helpers for the tests of engine/zip_archive.h and engine/torch_file.h:
// with them a test rebuilds a torch.save archive around a changed entry (a
// mutated pickle, a missing storage) that still passes the CRC checks.
#include <cstdint>
#include <string>
#include <vector>

namespace cnne::test {

struct ZipInput {
  std::string name;
  std::vector<uint8_t> bytes;
};

// The archive engine/zip_writer.h writes, in one buffer.
std::vector<uint8_t> make_zip(const std::vector<ZipInput>& entries, bool zip64_end = true);

// Every entry of a ZIP archive, in directory order.
std::vector<ZipInput> read_zip_entries(const std::vector<uint8_t>& archive);

}  // namespace cnne::test
