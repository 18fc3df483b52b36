#include "engine/image_resize.h"

#include <algorithm>
#include <cmath>

#include "engine/error.h"

namespace cnne {
namespace {

// PIL's precompute_coeffs for the bilinear filter (support 1): output i reads
// inputs [first[i], first[i] + weights[i].size()), the weights summing to 1,
// then held in fixed point (normalize_coeffs_8bpc).
struct Taps {
  std::vector<int64_t> first;
  std::vector<std::vector<int32_t>> weights;  // each times 2^kPrecisionBits, rounded
};

constexpr int kPrecisionBits = 32 - 8 - 2;  // PIL's PRECISION_BITS for 8-bit images

Taps taps(int64_t in, int64_t out) {
  const double scale = static_cast<double>(in) / static_cast<double>(out);
  const double stretch = std::max(scale, 1.0);  // shrinking widens the filter
  const double support = 1.0 * stretch;
  Taps t;
  for (int64_t i = 0; i < out; ++i) {
    const double center = (static_cast<double>(i) + 0.5) * scale;
    const auto lo = std::max<int64_t>(static_cast<int64_t>(center - support + 0.5), 0);
    const auto hi = std::min<int64_t>(static_cast<int64_t>(center + support + 0.5), in);
    std::vector<double> w;
    double sum = 0;
    for (int64_t x = lo; x < hi; ++x) {
      const double d = std::fabs((static_cast<double>(x) - center + 0.5) / stretch);
      w.push_back(d < 1.0 ? 1.0 - d : 0.0);
      sum += w.back();
    }
    std::vector<int32_t> fixed;
    for (double v : w) {
      const double k = (sum != 0 ? v / sum : v) * (1 << kPrecisionBits);
      fixed.push_back(static_cast<int32_t>(k < 0 ? k - 0.5 : k + 0.5));
    }
    t.first.push_back(lo);
    t.weights.push_back(std::move(fixed));
  }
  return t;
}

// A fixed-point sum back to 8 bits, as PIL's clip8: rounded (the sum starts at
// one half), clamped to 0..255.
uint8_t clip8(int64_t sum) {
  return static_cast<uint8_t>(std::clamp<int64_t>(sum >> kPrecisionBits, 0, 255));
}

// ITU-R 601 luma in PIL's fixed point (convert("L")).
uint8_t luma(uint8_t r, uint8_t g, uint8_t b) {
  return static_cast<uint8_t>((r * 19595 + g * 38470 + b * 7471 + 0x8000) >> 16);
}

}  // namespace

std::vector<uint8_t> resize_plane(const std::vector<uint8_t>& plane, int64_t in_h, int64_t in_w,
                                  int64_t out_h, int64_t out_w) {
  const Taps across = taps(in_w, out_w), down = taps(in_h, out_h);
  const int64_t half = int64_t{1} << (kPrecisionBits - 1);
  std::vector<uint8_t> wide(static_cast<size_t>(in_h * out_w));  // (in_h, out_w) U8, as PIL's
  for (int64_t y = 0; y < in_h; ++y)
    for (int64_t x = 0; x < out_w; ++x) {
      const auto& w = across.weights[static_cast<size_t>(x)];
      const uint8_t* in = plane.data() + y * in_w + across.first[static_cast<size_t>(x)];
      int64_t sum = half;
      for (size_t k = 0; k < w.size(); ++k) sum += int64_t{in[k]} * w[k];
      wide[static_cast<size_t>(y * out_w + x)] = clip8(sum);
    }
  std::vector<uint8_t> out(static_cast<size_t>(out_h * out_w));  // (out_h, out_w) U8
  for (int64_t y = 0; y < out_h; ++y) {
    const auto& w = down.weights[static_cast<size_t>(y)];
    const int64_t first = down.first[static_cast<size_t>(y)];
    for (int64_t x = 0; x < out_w; ++x) {
      int64_t sum = half;
      for (size_t k = 0; k < w.size(); ++k)
        sum += int64_t{wide[static_cast<size_t>((first + static_cast<int64_t>(k)) * out_w + x)]} *
               w[k];
      out[static_cast<size_t>(y * out_w + x)] = clip8(sum);
    }
  }
  return out;
}

std::vector<uint8_t> to_network_input(const DecodedImage& image, int64_t channels, int64_t height,
                                      int64_t width) {
  if (channels != 1 && channels != 3)
    throw Error("to_network_input: " + std::to_string(channels) + " channels, expected 1 or 3");
  const int64_t h = image.height, w = image.width, c = image.channels;
  // (channels, h, w) U8: the channels PIL's convert() gives
  std::vector<uint8_t> converted(static_cast<size_t>(channels * h * w));
  for (int64_t i = 0; i < h * w; ++i) {
    const uint8_t* p = image.pixels.data() + i * c;
    const bool color = c >= 3;
    if (channels == 1) {
      converted[static_cast<size_t>(i)] = color ? luma(p[0], p[1], p[2]) : p[0];
    } else {
      for (int64_t k = 0; k < 3; ++k)
        converted[static_cast<size_t>(k * h * w + i)] = color ? p[k] : p[0];
    }
  }
  if (h == height && w == width) return converted;
  std::vector<uint8_t> out;                                // (channels, height, width) U8
  std::vector<uint8_t> plane(static_cast<size_t>(h * w));  // (h, w) U8
  for (int64_t k = 0; k < channels; ++k) {
    std::copy(converted.begin() + k * h * w, converted.begin() + (k + 1) * h * w, plane.begin());
    const std::vector<uint8_t> resized = resize_plane(plane, h, w, height, width);
    out.insert(out.end(), resized.begin(), resized.end());
  }
  return out;
}

}  // namespace cnne
