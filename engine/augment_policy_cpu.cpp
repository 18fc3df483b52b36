// ops::augment_policy, CPU reference: per image, the crop and flip, then each
// drawn op over the whole image (its statistics first), through the same
// functions as the GPU kernel, so both make the same bytes.
#include <algorithm>
#include <array>
#include <utility>
#include <vector>

#include "engine/augment_policy_image.h"
#include "engine/augment_policy_table.h"
#include "engine/ops.h"

namespace cnne {

void apply_policy_op(const PolicyOpParams& o, const uint8_t* image, int channels, int height,
                     int width, uint8_t* out) {
  const int hw = height * width, image_bytes = channels * hw;
  std::array<uint8_t, 3 * 256> tables;  // (C, 256), C <= 3
  if (policy_op_uses_table(o.op)) {
    std::array<int32_t, 256> hist;  // (256) of one channel
    for (int ch = 0; ch < channels; ++ch) {
      hist.fill(0);
      for (int q = 0; q < hw; ++q) ++hist[image[ch * hw + q]];
      policy_channel_table(o.op, hist.data(), tables.data() + ch * 256);
    }
  }
  float mean = 0.0f;
  if (policy_op_needs_mean(o.op)) {
    int64_t sum = 0;
    for (int q = 0; q < hw; ++q) sum += policy_gray(image, channels, hw, q);
    mean = policy_mean(sum, hw);
  }
  for (int p = 0; p < image_bytes; ++p)
    out[p] = policy_pixel(o, image, channels, height, width, tables.data(), mean, p);
}

namespace cpu {

void augment_policy(Context&, const Tensor& pixels, const Tensor& order, const BatchArgs* args,
                    const BatchAugment& aug, const PolicySource& policy, const Tensor& staged) {
  const BatchArgs& a = *args;
  const int n = static_cast<int>(staged.shape[0]), c = static_cast<int>(staged.shape[1]);
  const int h = static_cast<int>(staged.shape[2]), w = static_cast<int>(staged.shape[3]);
  const int image_bytes = c * h * w;
  std::vector<uint8_t> current(static_cast<size_t>(image_bytes));  // (C, H, W)
  std::vector<uint8_t> next(current.size());                       // (C, H, W)
  for (int i = 0; i < n; ++i) {
    const int64_t position = a.first + i;
    const uint8_t* image = pixels.u8() + static_cast<int64_t>(order.i32()[position]) * image_bytes;
    const ImageDraw d = draw_for(aug, a.key, position, h, w);
    for (int p = 0; p < image_bytes; ++p) current[p] = cropped_byte(image, d, h, w, p);
    const PolicyDraw draw = draw_policy(policy, a.key, position);
    for (int k = 0; k < draw.count; ++k) {
      apply_policy_op(*draw.ops[k], current.data(), c, h, w, next.data());
      std::swap(current, next);
    }
    std::copy(current.begin(), current.end(), staged.u8() + static_cast<int64_t>(i) * image_bytes);
  }
}

}  // namespace cpu
}  // namespace cnne
