#pragma once
// The per-image arithmetic of assemble_batch, shared by the CPU reference and
// the GPU kernel so both make the same batch bit for bit: the augmentation
// draws of an image (from its position in the epoch) and the source pixel of
// each output pixel.
#include <cstdint>

#include "engine/host_device.h"
#include "engine/ops.h"
#include "engine/portable_math.h"
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
  // Cutout's square or RandomErasing's rectangle: rows [cut_y0, cut_y1),
  // columns [cut_x0, cut_x1); empty without either (or when erasing did not draw)
  int cut_y0 = 0, cut_y1 = 0, cut_x0 = 0, cut_x1 = 0;
};

// Cutout's and RandomErasing's draws use keys of their own, so crops and
// flips stay as without them.
constexpr uint64_t kCutoutSalt = 0x3c6ef372fe94f82bULL;
constexpr uint64_t kErasingSalt = 0xa54ff53a5f1d36f1ULL;
// RandomErasing's draws per image: whether, then 10 tries of 4.
constexpr uint64_t kErasingDraws = 41;

CNNE_HOST_DEVICE inline int clamp_to(int v, int hi) {
  return v < 0 ? 0 : (v > hi ? hi : v);
}

// Note [random erasing]
// torchvision's RandomErasing(p, scale, ratio, value) on the normalized
// image, as its get_params draws: with probability p, up to 10 tries of an
// area uniform in scale * (H W) and a ratio log-uniform in `ratio`, giving
// h = round(sqrt(area * ratio)), w = round(sqrt(area / ratio)) (Python's
// round, half to even); the first with h < H and w < W is placed at a
// uniform top-left (randint(0, H - h + 1), randint(0, W - w + 1)) and set
// to value; when all 10 fail, nothing is erased. The draws are stateless
// (hash(key ^ kErasingSalt, 41 p + m) for image position p) and the
// arithmetic is double with portable_exp, so the CPU and the GPU erase the
// same rectangle; the randomness is not torch's, the distribution is
// (tests/fixtures/random_erasing.json).
CNNE_HOST_DEVICE inline void draw_erasing(const BatchAugment& aug, uint64_t key, uint64_t p,
                                          int height, int width, ImageDraw& d) {
  const uint64_t k = key ^ kErasingSalt, base = kErasingDraws * p;
  if (!(dropout_uniform(k, base) < aug.erase_p)) return;
  const double area = static_cast<double>(height) * static_cast<double>(width);
  for (uint64_t attempt = 0; attempt < 10; ++attempt) {
    const uint64_t at = base + 1 + 4 * attempt;
    const double u_area = dropout_uniform(k, at), u_ratio = dropout_uniform(k, at + 1);
    const double erase_area =
        area * (aug.erase_scale_lo + (aug.erase_scale_hi - aug.erase_scale_lo) * u_area);
    const double ratio = portable_exp(aug.erase_log_ratio_lo +
                                      (aug.erase_log_ratio_hi - aug.erase_log_ratio_lo) * u_ratio);
    const int h = static_cast<int>(rint(sqrt(erase_area * ratio)));
    const int w = static_cast<int>(rint(sqrt(erase_area / ratio)));
    if (!(h < height && w < width)) continue;
    // randint(0, n): floor(u n) with u < 1, so at most n - 1
    const int y0 =
        static_cast<int>(static_cast<double>(dropout_uniform(k, at + 2)) * (height - h + 1));
    const int x0 =
        static_cast<int>(static_cast<double>(dropout_uniform(k, at + 3)) * (width - w + 1));
    d.cut_y0 = y0;
    d.cut_y1 = y0 + h;
    d.cut_x0 = x0;
    d.cut_x1 = x0 + w;
    return;
  }
}

CNNE_HOST_DEVICE inline ImageDraw draw_for(const BatchAugment& aug, uint64_t key, int64_t position,
                                           int height, int width) {
  const auto p = static_cast<uint64_t>(position);
  ImageDraw d{aug.flip == 2, 0, 0};
  if (aug.cutout > 0) {  // centre (cy, cx) uniform over the image, as np.random.randint(h)
    const uint64_t cut_key = key ^ kCutoutSalt;
    int cy = static_cast<int>(dropout_uniform(cut_key, 2 * p) * static_cast<float>(height));
    int cx = static_cast<int>(dropout_uniform(cut_key, 2 * p + 1) * static_cast<float>(width));
    cy = cy < height ? cy : height - 1;  // a draw of 1 - 2^-24 rounds up to 1.0f * height
    cx = cx < width ? cx : width - 1;
    const int half = aug.cutout / 2;
    d.cut_y0 = clamp_to(cy - half, height);
    d.cut_y1 = clamp_to(cy + half, height);
    d.cut_x0 = clamp_to(cx - half, width);
    d.cut_x1 = clamp_to(cx + half, width);
  } else if (aug.erase_p > 0) {
    draw_erasing(aug, key, p, height, width, d);
  }
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

// Whether output pixel (y, x) lies in the draw's cutout square or erased
// rectangle (its value is the fill: 0, or RandomErasing's value).
CNNE_HOST_DEVICE inline bool cut_out(const ImageDraw& d, int64_t y, int64_t x) {
  return y >= d.cut_y0 && y < d.cut_y1 && x >= d.cut_x0 && x < d.cut_x1;
}

// What a channel's pixels in the cutout square or erased rectangle become.
CNNE_HOST_DEVICE inline float cut_fill(const BatchAugment& aug, int64_t channel) {
  return aug.erase_p > 0 && channel < 4 ? aug.erase_value[channel] : 0.0f;
}

// The normalized value at output pixel (y, x) of an image drawn as d: the
// plane's source byte through its channel's table (padding reads byte 0),
// or `fill` inside the cutout square or erased rectangle.
CNNE_HOST_DEVICE inline float drawn_value(const uint8_t* plane, const float* table,
                                          const ImageDraw& d, int64_t y, int64_t x, int64_t height,
                                          int64_t width, float fill) {
  if (cut_out(d, y, x)) return fill;
  const int64_t src = source_pixel(d, y, x, height, width);
  return table[src < 0 ? 0 : plane[src]];
}

// a * wa + b * wb, each product rounded (no fused multiply-add), so every
// backend mixes to the same bits.
CNNE_HOST_DEVICE inline float blend(float a, float wa, float b, float wb) {
#ifdef __CUDA_ARCH__
  return __fadd_rn(__fmul_rn(a, wa), __fmul_rn(b, wb));
#else
  volatile float pa = a * wa, pb = b * wb;  // volatile: the compiler may not contract them
  return pa + pb;
#endif
}

// Note [batch mixing] (engine/mixing.h): the neighbour of batch image i, and
// whether pixel (y, x) of image i reads it.
CNNE_HOST_DEVICE inline int64_t mix_neighbour(const BatchArgs& a, int64_t i) {
  return (i + a.count - 1) % a.count;
}
CNNE_HOST_DEVICE inline bool reads_neighbour(const BatchArgs& a, int64_t y, int64_t x) {
  return a.mix_mode == kMixUp ||
         (a.mix_mode == kCutMix && y >= a.box_y0 && y < a.box_y1 && x >= a.box_x0 && x < a.box_x1);
}
// The mixed value of a pixel whose own value is `own` and whose neighbour's is `other`.
CNNE_HOST_DEVICE inline float mixed_value(const BatchArgs& a, float own, float other) {
  return a.mix_mode == kMixUp ? blend(own, a.mix_lambda, other, a.mix_other) : other;
}

// The pixels' row of batch image i, data set image `index`: i itself when the
// batch is staged (BatchAugment::staged).
CNNE_HOST_DEVICE inline int64_t pixel_row(const BatchAugment& aug, int64_t index, int64_t i) {
  return aug.staged ? i : index;
}

// Element t (NCHW order) of the batch that starts at a.first: its image's
// place in the batch, that image's index in the data set (and its
// neighbour's, when the batch is mixed), its normalized value, and whether it
// is the image's first element (where its labels are written). Shared by the
// GPU kernel and the fused step; `I` is the index arithmetic's type (int
// where the caller knows the batch is small).
struct BatchElement {
  int64_t image;
  int64_t index;
  int64_t neighbour_index;  // the data set index of the image mixed in (mixing only)
  float value;
  bool first;
};

template <class I>
CNNE_HOST_DEVICE inline BatchElement batch_element(const BatchSource& s, const BatchArgs& a, I t) {
  const I w = s.width, h = s.height, c = s.channels;
  const I xx = t % w, y = (t / w) % h, ch = (t / (w * h)) % c, i = t / (w * h * c);
  const int64_t index = s.order[a.first + i];
  const float* table = s.lut + ch * 256;
  const ImageDraw d = draw_for(s.aug, a.key, a.first + i, s.height, s.width);
  const int64_t row = pixel_row(s.aug, index, i);
  const float fill = cut_fill(s.aug, ch);
  float value = drawn_value(s.pixels + (row * c + ch) * h * w, table, d, y, xx, h, w, fill);
  int64_t neighbour_index = index;
  if (a.mix_mode != kNoMix) {
    const int64_t j = mix_neighbour(a, i);
    neighbour_index = s.order[a.first + j];
    if (reads_neighbour(a, y, xx)) {
      const ImageDraw dj = draw_for(s.aug, a.key, a.first + j, s.height, s.width);
      const int64_t neighbour_row = pixel_row(s.aug, neighbour_index, j);
      const float other =
          drawn_value(s.pixels + (neighbour_row * c + ch) * h * w, table, dj, y, xx, h, w, fill);
      value = mixed_value(a, value, other);
    }
  }
  return {i, index, neighbour_index, value, ch == 0 && y == 0 && xx == 0};
}

// The key of an epoch's draws.
inline uint64_t augment_key(uint64_t seed, int64_t epoch) {
  uint64_t key = seed * 0x9e3779b97f4a7c15ULL + 0x632be59bd9b4e019ULL;
  return key ^ (static_cast<uint64_t>(epoch) * 0xbf58476d1ce4e5b9ULL);
}

}  // namespace cnne
