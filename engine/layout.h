#pragma once
// Index arithmetic between the two memory layouts of a rank-4 tensor (Note
// [channels last] in engine/tensor.h), shared by the CPU and the kernels: a
// (N, C, H, W) tensor stored NCHW or NHWC, and a conv2d weight (K, C, R, S)
// stored KCRS or KRSC (the same arithmetic with N = K and H*W = R*S).
#include <cstdint>

#include "engine/host_device.h"

namespace cnne {

// The NCHW flat index of the element at NHWC flat index i (c channels, hw pixels per plane).
CNNE_HOST_DEVICE inline int64_t nchw_of_nhwc(int64_t i, int64_t c, int64_t hw) {
  const int64_t ch = i % c, pixel = (i / c) % hw, n = i / (c * hw);
  return (n * c + ch) * hw + pixel;
}

// The NHWC flat index of the element at NCHW flat index i.
CNNE_HOST_DEVICE inline int64_t nhwc_of_nchw(int64_t i, int64_t c, int64_t hw) {
  const int64_t pixel = i % hw, ch = (i / hw) % c, n = i / (c * hw);
  return (n * hw + pixel) * c + ch;
}

}  // namespace cnne
