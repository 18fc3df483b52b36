#pragma once
// ReLU's arithmetic, shared by the relu op and the forwards that fuse it
// (FusedActivation::kRelu: conv2d, linear, batchnorm2d, add) on the CPU and the
// GPU: max(v, 0) with NaN kept, as PyTorch's relu does, so a fault upstream
// stays visible downstream.
#include <cstdint>

#include "engine/host_device.h"

namespace cnne {

CNNE_HOST_DEVICE inline float relu_value(float v) {
  return (v > 0.0f || v != v) ? v : 0.0f;
}

namespace cpu {

using cnne::relu_value;

// y (n) = relu(y), in place.
inline void relu_in_place(float* y, int64_t n) {
  for (int64_t i = 0; i < n; ++i) y[i] = relu_value(y[i]);
}

}  // namespace cpu
}  // namespace cnne
