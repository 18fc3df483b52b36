#pragma once
// write_file_atomically: the file at `path` is either the old one or the
// complete new one, never a torn mix, whatever happens to the process:
// write a temporary file beside it, fsync it, rename it over `path`, fsync the
// folder. On failure the temporary file is removed and `path` is untouched.
#include <cstdint>
#include <span>
#include <string>
#include <vector>

namespace cnne {

// Throws Error naming `path` and the failing step (open, write, fsync, rename).
void write_file_atomically(const std::string& path,
                           const std::vector<std::span<const uint8_t>>& pieces);

}  // namespace cnne
