#pragma once
// ReLU's arithmetic on the CPU, shared by the relu op and the conv2d/linear
// forwards that fuse it (FusedActivation::kRelu): max(v, 0) with NaN kept, as
// PyTorch's relu does, so a fault upstream stays visible downstream.
#include <cstdint>

namespace cnne::cpu {

inline float relu_value(float v) {
  return (v > 0.0f || v != v) ? v : 0.0f;
}

// y (n) = relu(y), in place.
inline void relu_in_place(float* y, int64_t n) {
  for (int64_t i = 0; i < n; ++i) y[i] = relu_value(y[i]);
}

}  // namespace cnne::cpu
