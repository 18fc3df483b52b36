// assemble_batch, CPU reference.
#include "engine/batch_assembly.h"

namespace cnne::cpu {

void assemble_batch(Context&, const Tensor& pixels, const Tensor& labels, const Tensor& order,
                    const BatchArgs* args, const BatchAugment& aug, const Tensor& lut,
                    const Tensor& x, const Tensor& labels_out) {
  const int64_t first = args->first;
  const int64_t n = x.shape[0], c = x.shape[1], h = x.shape[2], w = x.shape[3];
  const int64_t image_bytes = c * h * w;
  for (int64_t i = 0; i < n; ++i) {
    const int32_t index = order.i32()[first + i];
    const uint8_t* src = pixels.u8() + index * image_bytes;
    float* dst = x.f32() + i * image_bytes;
    const ImageDraw d =
        draw_for(aug, args->key, first + i, static_cast<int>(h), static_cast<int>(w));
    for (int64_t ch = 0; ch < c; ++ch) {
      const float* table = lut.f32() + ch * 256;
      for (int64_t y = 0; y < h; ++y)
        for (int64_t xx = 0; xx < w; ++xx) {
          const int64_t s = source_pixel(d, y, xx, h, w);
          // NCHW, or NHWC for a channels-last batch (Note [channels last])
          const int64_t at = x.channels_last ? (y * w + xx) * c + ch : (ch * h + y) * w + xx;
          dst[at] = cut_out(d, y, xx) ? 0.0f : table[s < 0 ? 0 : src[ch * h * w + s]];
        }
    }
    labels_out.i32()[i] = labels.i32()[index];
  }
}

}  // namespace cnne::cpu
