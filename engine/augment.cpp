#include "engine/augment.h"

#include <cstring>

namespace cnne {

Rng augment_rng(uint64_t seed, int64_t epoch, int64_t batch) {
  // Distinct, well-mixed seeds per (seed, epoch, batch); Rng's constructor
  // runs splitmix64 over it.
  uint64_t key = seed * 0x9e3779b97f4a7c15ULL;
  key ^= static_cast<uint64_t>(epoch) * 0xbf58476d1ce4e5b9ULL + 0x632be59bd9b4e019ULL;
  key ^= static_cast<uint64_t>(batch) * 0x94d049bb133111ebULL + 0x2545f4914f6cdd1dULL;
  return Rng(key);
}

void crop_and_flip(const uint8_t* image, int64_t channels, int64_t height, int64_t width,
                   int64_t dy, int64_t dx, bool flip, uint8_t* dst) {
  for (int64_t c = 0; c < channels; ++c) {
    const uint8_t* src = image + c * height * width;
    uint8_t* out = dst + c * height * width;
    for (int64_t y = 0; y < height; ++y) {
      const int64_t sy = y + dy;
      uint8_t* row = out + y * width;
      if (sy < 0 || sy >= height) {
        std::memset(row, 0, static_cast<size_t>(width));
        continue;
      }
      for (int64_t x = 0; x < width; ++x) {
        // RandomHorizontalFlip, then RandomCrop of the flipped image
        const int64_t sx = flip ? width - 1 - (x + dx) : x + dx;
        row[x] = (sx >= 0 && sx < width) ? src[sy * width + sx] : 0;
      }
    }
  }
}

}  // namespace cnne
