#pragma once
// The per-image arithmetic of assemble_batch, shared by the CPU reference and
// the GPU kernel so both make the same batch bit for bit: the augmentation
// draws of an image (from its position in the epoch) and the source pixel of
// each output pixel.
#include <cstdint>

#include "engine/host_device.h"
#include "engine/ops.h"
#include "layers/dropout_mask.h"

namespace cnne {

// Where a batch comes from: the data set's bytes and this epoch's order on
// the step's device, and how to augment and normalize (ops::assemble_batch's
// arguments, Note [stateless augmentation draws]).
struct BatchSource {
  const uint8_t* pixels = nullptr;  // (count, C, H, W)
  const int32_t* labels = nullptr;  // (count)
  const int32_t* order = nullptr;   // (count): this epoch's order
  const float* lut = nullptr;       // (C, 256): byte -> normalized value
  BatchAugment aug;
  int32_t channels = 0, height = 0, width = 0;
};

struct ImageDraw {
  bool flip;
  int dy, dx;  // crop offsets in [-pad, pad]
};

CNNE_HOST_DEVICE inline ImageDraw draw_for(const BatchAugment& aug, uint64_t key,
                                           int64_t position) {
  const auto p = static_cast<uint64_t>(position);
  ImageDraw d{aug.flip == 2, 0, 0};
  if (aug.flip == 1) d.flip = dropout_uniform(key, 3 * p) < 0.5f;
  if (aug.crop_padding > 0) {
    const int span = 2 * aug.crop_padding + 1;
    d.dy = static_cast<int>(dropout_uniform(key, 3 * p + 1) * static_cast<float>(span)) -
           aug.crop_padding;
    d.dx = static_cast<int>(dropout_uniform(key, 3 * p + 2) * static_cast<float>(span)) -
           aug.crop_padding;
  }
  return d;
}

// The pixel (y, x) of the augmented image reads source pixel (sy, sx), or the
// zero padding when -1: torchvision's RandomHorizontalFlip, then RandomCrop.
CNNE_HOST_DEVICE inline int64_t source_pixel(const ImageDraw& d, int64_t y, int64_t x,
                                             int64_t height, int64_t width) {
  const int64_t sy = y + d.dy;
  const int64_t sx = d.flip ? width - 1 - (x + d.dx) : x + d.dx;
  if (sy < 0 || sy >= height || sx < 0 || sx >= width) return -1;
  return sy * width + sx;
}

// Element t (NCHW order) of the batch that starts at a.first: its image's
// place in the batch, that image's index in the data set, its normalized
// value, and whether it is the image's first element (where its label is
// written). Shared by the GPU kernel and the fused step; `I` is the index
// arithmetic's type (int where the caller knows the batch is small).
struct BatchElement {
  int64_t image;
  int64_t index;
  float value;
  bool first;
};

template <class I>
CNNE_HOST_DEVICE inline BatchElement batch_element(const BatchSource& s, const BatchArgs& a, I t) {
  const I w = s.width, h = s.height, c = s.channels;
  const I xx = t % w, y = (t / w) % h, ch = (t / (w * h)) % c, i = t / (w * h * c);
  const int64_t index = s.order[a.first + i];
  const ImageDraw d = draw_for(s.aug, a.key, a.first + i);
  const int64_t src = source_pixel(d, y, xx, h, w);
  const uint8_t byte = src < 0 ? 0 : s.pixels[(index * c + ch) * h * w + src];
  return {i, index, s.lut[ch * 256 + byte], ch == 0 && y == 0 && xx == 0};
}

// The key of an epoch's draws.
inline uint64_t augment_key(uint64_t seed, int64_t epoch) {
  uint64_t key = seed * 0x9e3779b97f4a7c15ULL + 0x632be59bd9b4e019ULL;
  return key ^ (static_cast<uint64_t>(epoch) * 0xbf58476d1ce4e5b9ULL);
}

}  // namespace cnne
