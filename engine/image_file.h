#pragma once
// Image files for `cnnengine predict`: PNG (every bit depth and colour type of
// the standard, Adam7-interlaced or not) and binary PGM/PPM (P5/P6). Decoded to 8 bits
// per sample, interleaved as the file stores it. Every fault is a DataError
// naming `where` and what was expected; sizes are checked before anything is
// allocated, so a hostile header cannot ask for gigabytes.
#include <cstdint>
#include <span>
#include <string>
#include <vector>

namespace cnne {

struct DecodedImage {
  int64_t height = 0, width = 0;
  int64_t channels = 0;         // 1 gray, 2 gray + alpha, 3 RGB, 4 RGBA (a palette decodes to 3)
  std::vector<uint8_t> pixels;  // (height, width, channels) U8, row-major, interleaved
};

// The largest image read: 2^26 pixels (8192 x 8192).
inline constexpr int64_t kMaxImagePixels = int64_t{1} << 26;

// Reads `path` and decodes it by its first bytes (PNG's signature, or P5/P6).
DecodedImage read_image_file(const std::string& path);
DecodedImage decode_image(std::span<const uint8_t> bytes, const std::string& where);
DecodedImage decode_png(std::span<const uint8_t> bytes, const std::string& where);
DecodedImage decode_netpbm(std::span<const uint8_t> bytes, const std::string& where);

}  // namespace cnne
