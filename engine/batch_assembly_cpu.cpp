// assemble_batch, CPU reference: per image, its draws once, then its pixels
// through the same per-pixel functions the GPU kernel uses.
#include "engine/batch_assembly.h"

namespace cnne::cpu {

void assemble_batch(Context&, const Tensor& pixels, const Tensor& labels, const Tensor& order,
                    const BatchArgs* args, const BatchAugment& aug, const Tensor& lut,
                    const Tensor& x, const Tensor& labels_out) {
  const BatchArgs& a = *args;
  const int64_t first = a.first;
  const int64_t n = x.shape[0], c = x.shape[1], h = x.shape[2], w = x.shape[3];
  const int64_t image_bytes = c * h * w;
  const bool mixed = a.mix_mode != kNoMix;
  for (int64_t i = 0; i < n; ++i) {
    const int32_t index = order.i32()[first + i];
    const uint8_t* src = pixels.u8() + pixel_row(aug, index, i) * image_bytes;
    float* dst = x.f32() + i * image_bytes;
    const ImageDraw d = draw_for(aug, a.key, first + i, static_cast<int>(h), static_cast<int>(w));
    // Note [batch mixing]: the neighbour image and its own draws
    const int64_t j = mixed ? mix_neighbour(a, i) : i;
    const int32_t neighbour = order.i32()[first + j];
    const uint8_t* neighbour_src = pixels.u8() + pixel_row(aug, neighbour, j) * image_bytes;
    const ImageDraw dj =
        mixed ? draw_for(aug, a.key, first + j, static_cast<int>(h), static_cast<int>(w)) : d;
    for (int64_t ch = 0; ch < c; ++ch) {
      const float* table = lut.f32() + ch * 256;
      const float fill = cut_fill(aug, ch);
      for (int64_t y = 0; y < h; ++y)
        for (int64_t xx = 0; xx < w; ++xx) {
          float v = drawn_value(src + ch * h * w, table, d, y, xx, h, w, fill);
          if (mixed && reads_neighbour(a, y, xx))
            v = mixed_value(a, v,
                            drawn_value(neighbour_src + ch * h * w, table, dj, y, xx, h, w, fill));
          // NCHW, or NHWC for a channels-last batch (Note [channels last])
          const int64_t at = x.channels_last ? (y * w + xx) * c + ch : (ch * h + y) * w + xx;
          dst[at] = v;
        }
    }
    labels_out.i32()[i] = labels.i32()[index];
    if (mixed) labels_out.i32()[n + i] = labels.i32()[neighbour];
  }
}

}  // namespace cnne::cpu
