#pragma once
// One image through its policy ops, the steps shared by the CPU reference
// (engine/augment_policy_cpu.cpp) and the GPU kernel
// (engine/augment_policy_kernel.cuh), Note [augmentation policies].
#include <cstdint>

#include "engine/augment_policy.h"
#include "engine/batch_assembly.h"

namespace cnne {

// Byte p (NCHW order within the image) of image `plane0` (C, H, W) flipped
// and cropped as d says; the padding is 0.
CNNE_HOST_DEVICE inline uint8_t cropped_byte(const uint8_t* image, const ImageDraw& d, int height,
                                             int width, int p) {
  const int hw = height * width, ch = p / hw, q = p % hw;
  const int64_t src = source_pixel(d, q / width, q % width, height, width);
  return src < 0 ? 0 : image[static_cast<int64_t>(ch) * hw + src];
}

// The mean grayscale from its sum over hw pixels: torch.mean's sum / count.
CNNE_HOST_DEVICE inline float policy_mean(int64_t gray_sum, int hw) {
  return static_cast<float>(gray_sum) / static_cast<float>(hw);
}

}  // namespace cnne
