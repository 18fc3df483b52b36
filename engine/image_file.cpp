#include "engine/image_file.h"

#include <zlib.h>

#include <algorithm>
#include <array>
#include <cctype>
#include <cstring>
#include <fstream>

#include "engine/error.h"
#include "engine/zip_archive.h"

namespace cnne {
namespace {

constexpr std::array<uint8_t, 8> kPngSignature{0x89, 'P', 'N', 'G', '\r', '\n', 0x1a, '\n'};

uint32_t be32(const uint8_t* p) {
  return uint32_t{p[0]} << 24 | uint32_t{p[1]} << 16 | uint32_t{p[2]} << 8 | uint32_t{p[3]};
}

void check_size(int64_t height, int64_t width, const std::string& where) {
  if (height < 1 || width < 1 || height > kMaxImagePixels || width > kMaxImagePixels ||
      height * width > kMaxImagePixels)
    throw DataError(where + ": image of " + std::to_string(width) + " x " + std::to_string(height) +
                    " pixels, expected 1 to " + std::to_string(kMaxImagePixels) + " pixels in all");
}

struct PngHeader {
  int64_t width = 0, height = 0;
  int bit_depth = 0, color_type = 0;
  int samples = 0;          // per pixel in the file: 1 gray or palette index, 2 GA, 3 RGB, 4 RGBA
  bool interlaced = false;  // Adam7: seven passes of sub-images, each its own filtered rows
};

// One Adam7 pass: the pixels (x0 + i * dx, y0 + j * dy).
struct Pass {
  int64_t x0, y0, dx, dy;
};
constexpr std::array<Pass, 7> kAdam7{{{0, 0, 8, 8},
                                      {4, 0, 8, 8},
                                      {0, 4, 4, 8},
                                      {2, 0, 4, 4},
                                      {0, 2, 2, 4},
                                      {1, 0, 2, 2},
                                      {0, 1, 1, 2}}};
// The passes of an image: the whole image when not interlaced.
std::vector<Pass> passes_of(const PngHeader& h) {
  if (!h.interlaced) return {{0, 0, 1, 1}};
  return {kAdam7.begin(), kAdam7.end()};
}
// Pixels of a pass along one axis of `size` pixels (0 for a pass that misses them all).
int64_t pass_extent(int64_t size, int64_t first, int64_t step) {
  return size > first ? (size - first + step - 1) / step : 0;
}

PngHeader parse_ihdr(std::span<const uint8_t> data, const std::string& where) {
  if (data.size() != 13)
    throw DataError(where + ": PNG IHDR chunk of " + std::to_string(data.size()) +
                    " bytes, expected 13");
  PngHeader h;
  h.width = be32(data.data());
  h.height = be32(data.data() + 4);
  h.bit_depth = data[8];
  h.color_type = data[9];
  check_size(h.height, h.width, where);
  // The standard's table of colour types and the bit depths each allows.
  const auto allowed = [&](std::initializer_list<int> depths) {
    return std::find(depths.begin(), depths.end(), h.bit_depth) != depths.end();
  };
  bool ok = false;
  switch (h.color_type) {
    case 0:
      h.samples = 1;
      ok = allowed({1, 2, 4, 8, 16});
      break;
    case 2:
      h.samples = 3;
      ok = allowed({8, 16});
      break;
    case 3:
      h.samples = 1;
      ok = allowed({1, 2, 4, 8});
      break;
    case 4:
      h.samples = 2;
      ok = allowed({8, 16});
      break;
    case 6:
      h.samples = 4;
      ok = allowed({8, 16});
      break;
    default:
      throw DataError(where + ": PNG colour type " + std::to_string(h.color_type) +
                      ", expected 0, 2, 3, 4 or 6");
  }
  if (!ok)
    throw DataError(where + ": PNG bit depth " + std::to_string(h.bit_depth) +
                    " is not allowed with colour type " + std::to_string(h.color_type));
  if (data[10] != 0 || data[11] != 0)
    throw DataError(where + ": PNG compression or filter method other than 0");
  if (data[12] > 1)
    throw DataError(where + ": PNG interlace method " + std::to_string(data[12]) +
                    ", expected 0 (none) or 1 (Adam7)");
  h.interlaced = data[12] == 1;
  return h;
}

// PNG's Paeth predictor.
uint8_t paeth(int a, int b, int c) {
  const int p = a + b - c;
  const int pa = std::abs(p - a), pb = std::abs(p - b), pc = std::abs(p - c);
  return static_cast<uint8_t>(pa <= pb && pa <= pc ? a : pb <= pc ? b : c);
}

// Undoes each row's filter in place; rows are (1 + row_bytes) with the filter byte first.
void unfilter(uint8_t* raw, int64_t rows, int64_t row_bytes, int64_t bpp,
              const std::string& where) {
  const int64_t stride = row_bytes + 1;
  for (int64_t y = 0; y < rows; ++y) {
    uint8_t* row = raw + y * stride + 1;
    const uint8_t* up = y > 0 ? raw + (y - 1) * stride + 1 : nullptr;
    const int filter = row[-1];
    for (int64_t i = 0; i < row_bytes; ++i) {
      const int a = i >= bpp ? row[i - bpp] : 0;
      const int b = up ? up[i] : 0;
      const int c = up && i >= bpp ? up[i - bpp] : 0;
      switch (filter) {
        case 0:
          break;
        case 1:
          row[i] = static_cast<uint8_t>(row[i] + a);
          break;
        case 2:
          row[i] = static_cast<uint8_t>(row[i] + b);
          break;
        case 3:
          row[i] = static_cast<uint8_t>(row[i] + (a + b) / 2);
          break;
        case 4:
          row[i] = static_cast<uint8_t>(row[i] + paeth(a, b, c));
          break;
        default:
          throw DataError(where + ": PNG row " + std::to_string(y) + " has filter type " +
                          std::to_string(filter) + ", expected 0 to 4");
      }
    }
  }
}

// Inflates the joined IDAT data into exactly `expected` bytes.
std::vector<uint8_t> inflate_exactly(const std::vector<uint8_t>& compressed, size_t expected,
                                     const std::string& where) {
  // Deflate expands at most ~1032:1: a header claiming more than its data can
  // hold is refused before the memory is taken.
  if (expected / 1032 > compressed.size() + 64)
    throw DataError(where + ": PNG image data of " + std::to_string(compressed.size()) +
                    " bytes cannot hold the " + std::to_string(expected) + " its size needs");
  std::vector<uint8_t> out(expected + 1);  // one spare byte: a longer stream is an error
  z_stream z{};
  if (inflateInit(&z) != Z_OK) throw DataError(where + ": zlib could not start");
  z.next_in = const_cast<Bytef*>(compressed.data());
  z.avail_in = static_cast<uInt>(compressed.size());
  z.next_out = out.data();
  z.avail_out = static_cast<uInt>(out.size());
  const int status = inflate(&z, Z_FINISH);
  const size_t produced = out.size() - z.avail_out;
  const std::string message = z.msg ? z.msg : "error " + std::to_string(status);
  inflateEnd(&z);
  if (status != Z_STREAM_END || produced != expected)
    throw DataError(where + ": PNG image data " +
                    (status == Z_STREAM_END || status == Z_BUF_ERROR
                         ? "inflates to " + std::string(produced > expected ? "more than " : "") +
                               std::to_string(produced) + " bytes, expected " +
                               std::to_string(expected)
                         : "is not a valid zlib stream (" + message + ")"));
  out.resize(expected);
  return out;
}

}  // namespace

DecodedImage decode_png(std::span<const uint8_t> bytes, const std::string& where) {
  if (bytes.size() < 8 || !std::equal(kPngSignature.begin(), kPngSignature.end(), bytes.begin()))
    throw DataError(where + ": not a PNG file (no PNG signature)");
  PngHeader h;
  bool have_header = false, ended = false;
  std::vector<uint8_t> palette;  // (entries, 3) RGB
  std::vector<uint8_t> compressed;
  size_t at = 8;
  while (!ended) {
    if (bytes.size() - at < 12)
      throw DataError(where + ": PNG cut short at byte " + std::to_string(at) +
                      (have_header ? " (no IEND chunk)" : ""));
    const uint32_t length = be32(bytes.data() + at);
    const std::string type(reinterpret_cast<const char*>(bytes.data() + at + 4), 4);
    if (length > bytes.size() - at - 12)
      throw DataError(where + ": PNG chunk '" + type + "' of " + std::to_string(length) +
                      " bytes runs past the end of the file");
    const std::span<const uint8_t> typed = bytes.subspan(at + 4, 4 + length);  // type + data
    const std::span<const uint8_t> data = typed.subspan(4);
    if (zip_crc32(typed) != be32(bytes.data() + at + 8 + length))
      throw DataError(where + ": PNG chunk '" + type + "' at byte " + std::to_string(at) +
                      " fails its CRC (the file is damaged)");
    at += 12 + length;
    if (!have_header && type != "IHDR")
      throw DataError(where + ": PNG starts with chunk '" + type + "', expected IHDR");
    if (type == "IHDR") {
      if (have_header) throw DataError(where + ": PNG has two IHDR chunks");
      h = parse_ihdr(data, where);
      have_header = true;
    } else if (type == "PLTE") {
      if (data.size() % 3 != 0 || data.empty() || data.size() > 256 * 3)
        throw DataError(where + ": PNG palette of " + std::to_string(data.size()) +
                        " bytes, expected 3 to 768, a multiple of 3");
      palette.assign(data.begin(), data.end());
    } else if (type == "IDAT") {
      compressed.insert(compressed.end(), data.begin(), data.end());
    } else if (type == "IEND") {
      ended = true;
    } else if (!(type[0] & 0x20)) {  // a critical chunk we do not know
      throw DataError(where + ": PNG has critical chunk '" + type + "', which is not read");
    }
  }
  if (compressed.empty()) throw DataError(where + ": PNG has no image data (IDAT)");
  if (h.color_type == 3 && palette.empty())
    throw DataError(where + ": PNG with a palette colour type has no PLTE chunk");

  const int64_t bits_per_pixel = int64_t{h.samples} * h.bit_depth;
  const int64_t bpp = std::max<int64_t>(1, bits_per_pixel / 8);
  const auto row_bytes_of = [&](int64_t pixels) { return (pixels * bits_per_pixel + 7) / 8; };
  const std::vector<Pass> passes = passes_of(h);
  int64_t expected = 0;  // every pass's rows, one after the other, each with its filter byte
  for (const Pass& p : passes) {
    const int64_t w = pass_extent(h.width, p.x0, p.dx), rows = pass_extent(h.height, p.y0, p.dy);
    if (w > 0) expected += rows * (row_bytes_of(w) + 1);
  }
  std::vector<uint8_t> raw = inflate_exactly(compressed, static_cast<size_t>(expected), where);

  DecodedImage image;
  image.height = h.height;
  image.width = h.width;
  image.channels = h.color_type == 3 ? 3 : h.samples;
  image.pixels.resize(static_cast<size_t>(h.height * h.width * image.channels));
  const int max_value = (1 << std::min(h.bit_depth, 8)) - 1;
  uint8_t* pass_data = raw.data();
  for (const Pass& p : passes) {
    const int64_t w = pass_extent(h.width, p.x0, p.dx), rows = pass_extent(h.height, p.y0, p.dy);
    if (w == 0 || rows == 0) continue;  // PNG stores nothing, not even filter bytes
    const int64_t row_bytes = row_bytes_of(w);
    unfilter(pass_data, rows, row_bytes, bpp, where);
    for (int64_t j = 0; j < rows; ++j) {
      const uint8_t* row = pass_data + j * (row_bytes + 1) + 1;
      const int64_t y = p.y0 + j * p.dy;
      for (int64_t i = 0; i < w; ++i) {
        const int64_t x = p.x0 + i * p.dx;
        uint8_t* out = image.pixels.data() + (y * h.width + x) * image.channels;
        for (int s = 0; s < h.samples; ++s) {
          const int64_t sample = i * h.samples + s;
          int value;
          if (h.bit_depth == 16) {
            value = row[2 * sample];  // the high byte, as libpng's strip_16
          } else if (h.bit_depth == 8) {
            value = row[sample];
          } else {  // 1, 2 or 4 bits, the leftmost pixel in the high bits
            const int64_t bit = sample * h.bit_depth;
            value = (row[bit / 8] >> (8 - h.bit_depth - bit % 8)) & max_value;
          }
          if (h.color_type == 3) {
            if (3 * static_cast<size_t>(value) + 2 >= palette.size())
              throw DataError(where + ": PNG pixel (" + std::to_string(x) + ", " +
                              std::to_string(y) + ") uses palette entry " + std::to_string(value) +
                              " of " + std::to_string(palette.size() / 3));
            std::memcpy(out, &palette[3 * static_cast<size_t>(value)], 3);
          } else {
            // Gray below 8 bits stretches to 0..255 (1-bit 1 is white).
            out[s] = static_cast<uint8_t>(h.bit_depth < 8 ? value * 255 / max_value : value);
          }
        }
      }
    }
    pass_data += rows * (row_bytes + 1);
  }
  return image;
}

namespace {

// Netpbm's header tokens: whitespace and #-comments between them.
class NetpbmReader {
 public:
  NetpbmReader(std::span<const uint8_t> bytes, std::string where)
      : bytes_(bytes), where_(std::move(where)) {}

  int64_t number(const char* what) {
    skip_space();
    int64_t v = 0;
    size_t digits = 0;
    while (at_ < bytes_.size() && bytes_[at_] >= '0' && bytes_[at_] <= '9' && digits < 9) {
      v = v * 10 + (bytes_[at_++] - '0');
      ++digits;
    }
    if (digits == 0 || (at_ < bytes_.size() && bytes_[at_] >= '0' && bytes_[at_] <= '9'))
      throw DataError(where_ + ": netpbm header: expected the " + what +
                      " (a number up to 9 digits)");
    return v;
  }
  // After maxval: exactly one whitespace byte, then the samples.
  size_t data_start() {
    if (at_ >= bytes_.size() || !std::isspace(bytes_[at_]))
      throw DataError(where_ + ": netpbm header: expected whitespace after the maximum value");
    return at_ + 1;
  }

 private:
  void skip_space() {
    while (at_ < bytes_.size()) {
      if (bytes_[at_] == '#') {
        while (at_ < bytes_.size() && bytes_[at_] != '\n') ++at_;
      } else if (std::isspace(bytes_[at_])) {
        ++at_;
      } else {
        break;
      }
    }
  }

  std::span<const uint8_t> bytes_;
  std::string where_;
  size_t at_ = 2;  // after the magic
};

}  // namespace

DecodedImage decode_netpbm(std::span<const uint8_t> bytes, const std::string& where) {
  if (bytes.size() < 2 || bytes[0] != 'P' || (bytes[1] != '5' && bytes[1] != '6'))
    throw DataError(where + ": not a binary PGM/PPM file (expected P5 or P6)");
  NetpbmReader r(bytes, where);
  DecodedImage image;
  image.channels = bytes[1] == '6' ? 3 : 1;
  image.width = r.number("width");
  image.height = r.number("height");
  check_size(image.height, image.width, where);
  const int64_t max_value = r.number("maximum value");
  if (max_value < 1 || max_value > 65535)
    throw DataError(where + ": netpbm maximum value " + std::to_string(max_value) +
                    ", expected 1 to 65535");
  const size_t start = r.data_start();
  const int64_t sample_bytes = max_value > 255 ? 2 : 1;
  const int64_t samples = image.height * image.width * image.channels;
  if (static_cast<int64_t>(bytes.size() - start) < samples * sample_bytes)
    throw DataError(where + ": netpbm data of " + std::to_string(bytes.size() - start) +
                    " bytes, expected " + std::to_string(samples * sample_bytes) + " for " +
                    std::to_string(image.width) + " x " + std::to_string(image.height));
  image.pixels.resize(static_cast<size_t>(samples));
  const uint8_t* p = bytes.data() + start;
  for (int64_t i = 0; i < samples; ++i) {
    const int64_t v = sample_bytes == 2 ? (int64_t{p[2 * i]} << 8 | p[2 * i + 1]) : p[i];
    if (v > max_value)
      throw DataError(where + ": netpbm sample " + std::to_string(i) + " is " + std::to_string(v) +
                      ", above the maximum value " + std::to_string(max_value));
    image.pixels[static_cast<size_t>(i)] =
        static_cast<uint8_t>((v * 255 + max_value / 2) / max_value);
  }
  return image;
}

DecodedImage decode_image(std::span<const uint8_t> bytes, const std::string& where) {
  if (bytes.size() >= 8 && std::equal(kPngSignature.begin(), kPngSignature.end(), bytes.begin()))
    return decode_png(bytes, where);
  if (bytes.size() >= 2 && bytes[0] == 'P' && (bytes[1] == '5' || bytes[1] == '6'))
    return decode_netpbm(bytes, where);
  throw DataError(where +
                  ": not an image cnnengine reads (expected PNG, or binary PGM/PPM: P5/P6; "
                  "convert JPEG and others first, e.g. with PIL or ImageMagick)");
}

DecodedImage read_image_file(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) throw DataError(path + ": cannot open the image file");
  in.seekg(0, std::ios::end);
  const std::streamoff size = in.tellg();
  if (size < 0) throw DataError(path + ": cannot read the image file");
  // A PNG holds at most ~kMaxImagePixels * 8 bytes of data plus overhead; far bigger is refused.
  if (size > (int64_t{1} << 31)) throw DataError(path + ": image file over 2 GiB");
  in.seekg(0);
  std::vector<uint8_t> bytes(static_cast<size_t>(size));
  if (!in.read(reinterpret_cast<char*>(bytes.data()), size))
    throw DataError(path + ": cannot read the image file");
  return decode_image(bytes, path);
}

}  // namespace cnne
