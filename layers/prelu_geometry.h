#pragma once
// Which slope of nn.PReLU each element of x meets (layers/prelu.h): weight
// (C) per channel, dim 1 of an (N, C, H, W) or (N, C) x, in either layout; or
// weight (1), one slope for all. Shared by the CPU reference
// (layers/prelu_cpu.cpp) and the GPU kernels (layers/prelu_kernels.cuh).
#include <cstdint>
#include <string>

#include "engine/error.h"
#include "engine/host_device.h"
#include "engine/tensor.h"

namespace cnne {

struct PreluGeometry {
  int64_t count = 0;     // elements of x
  int64_t channels = 1;  // C, x's dim 1
  int64_t area = 1;      // H * W (1 for (N, C))
  int64_t weights = 1;   // 1 or C
  bool channels_last = false;
  // Elements that share one slope: N * area, or all of x.
  CNNE_HOST_DEVICE int64_t per_weight() const { return weights == 1 ? count : count / channels; }
};

// Throws naming `what` unless weight is (1) or (C) of x (N, C, ...).
inline PreluGeometry prelu_geometry(const Tensor& x, const Tensor& weight,
                                    const std::string& what) {
  PreluGeometry g;
  g.count = x.numel();
  if (x.shape.rank() != 2 && x.shape.rank() != 4)
    throw Error(what + ": x must be (N, C, H, W) or (N, C), got " + x.shape.str());
  g.channels = x.shape[1];
  g.area = x.shape.rank() == 4 ? x.shape[2] * x.shape[3] : 1;
  g.weights = weight.numel();
  if (g.weights != 1 && g.weights != g.channels)
    throw Error(what + ": weight " + weight.shape.str() + " is neither (1) nor one per channel");
  g.channels_last = x.channels_last;
  return g;
}

CNNE_HOST_DEVICE inline int64_t prelu_weight_index(int64_t i, const PreluGeometry& g) {
  if (g.weights == 1) return 0;
  return g.channels_last ? i % g.channels : (i / g.area) % g.channels;
}

// The k-th of the per_weight() elements of slope w, in x's memory: image by
// image, then pixel by pixel (the reduction order of dweight everywhere).
CNNE_HOST_DEVICE inline int64_t prelu_element(int64_t w, int64_t k, const PreluGeometry& g) {
  if (g.weights == 1) return k;
  if (g.channels_last) return k * g.channels + w;
  const int64_t n = k / g.area, j = k - n * g.area;
  return (n * g.channels + w) * g.area + j;
}

}  // namespace cnne
