#pragma once
// The augmentation policy kernel (Note [augmentation policies]), launched by
// engine/augment_policy_cuda.cu and run on CPU threads by the emulated-kernel
// tests (Note [kernel emulation] in cuda/emulator.h): one block of
// kPolicyThreads per image, the image and its statistics in shared memory.
// The histograms and the grayscale sum are integer atomics, so their values
// (and the bytes) do not depend on the threads' order.
#include <cstdint>

#include "cuda/device_api.cuh"
#include "engine/augment_policy_image.h"

namespace cnne::cuda {
namespace {

constexpr int kPolicyThreads = 256;

__global__ void __launch_bounds__(kPolicyThreads)
    augment_policy_kernel(const uint8_t* pixels, const int32_t* order, const BatchArgs* args,
                          BatchAugment aug, PolicySource policy, uint8_t* staged, int channels,
                          int height, int width) {
  __shared__ uint8_t images[2][kPolicyMaxImageBytes];  // two (C, H, W): the op's input, its output
  __shared__ int32_t hist[3 * 256];                    // (C, 256)
  __shared__ uint8_t tables[3 * 256];                  // (C, 256)
  __shared__ unsigned long long gray_sum;
  const BatchArgs a = *args;  // this step's (Note [graph-safe step arguments])
  const int hw = height * width, image_bytes = channels * hw;
  const int t = static_cast<int>(threadIdx.x);
  const int64_t position = a.first + blockIdx.x;
  const uint8_t* image = pixels + static_cast<int64_t>(order[position]) * image_bytes;
  const ImageDraw d = draw_for(aug, a.key, position, height, width);
  for (int p = t; p < image_bytes; p += blockDim.x)
    images[0][p] = cropped_byte(image, d, height, width, p);
  __syncthreads();
  const PolicyDraw draw = draw_policy(policy, a.key, position);  // the same in every thread
  int cur = 0;
  for (int k = 0; k < draw.count; ++k) {
    const PolicyOpParams o = *draw.ops[k];
    const uint8_t* in = images[cur];
    if (policy_op_uses_table(o.op)) {
      for (int v = t; v < channels * 256; v += blockDim.x) hist[v] = 0;
      __syncthreads();
      for (int p = t; p < image_bytes; p += blockDim.x) atomicAdd(&hist[(p / hw) * 256 + in[p]], 1);
      __syncthreads();
      if (t < channels) policy_channel_table(o.op, hist + t * 256, tables + t * 256);
    }
    if (policy_op_needs_mean(o.op)) {
      if (t == 0) gray_sum = 0;
      __syncthreads();
      unsigned long long part = 0;
      for (int q = t; q < hw; q += blockDim.x) part += policy_gray(in, channels, hw, q);
      atomicAdd(&gray_sum, part);
    }
    __syncthreads();
    const float mean =
        policy_op_needs_mean(o.op) ? policy_mean(static_cast<int64_t>(gray_sum), hw) : 0.0f;
    for (int p = t; p < image_bytes; p += blockDim.x)
      images[1 - cur][p] = policy_pixel(o, in, channels, height, width, tables, mean, p);
    __syncthreads();
    cur = 1 - cur;
  }
  uint8_t* out = staged + static_cast<int64_t>(blockIdx.x) * image_bytes;
  for (int p = t; p < image_bytes; p += blockDim.x) out[p] = images[cur][p];
}

}  // namespace
}  // namespace cnne::cuda
