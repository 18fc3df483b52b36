// ReLU, CPU reference: y = max(x, 0) (NaN kept); dx = dy where y > 0, else 0.
#include "engine/ops.h"
#include "layers/relu_math.h"

namespace cnne::cpu {

void relu_forward(Context&, const Tensor& x, const Tensor& y) {
  const float* in = x.f32();
  float* out = y.f32();
  const int64_t n = x.numel();
  for (int64_t i = 0; i < n; ++i) out[i] = relu_value(in[i]);
}

void relu_backward(Context&, const Tensor& y, const Tensor& dy, const Tensor& dx) {
  const float* out = y.f32();
  const float* g = dy.f32();
  float* dst = dx.f32();
  const int64_t n = y.numel();
  for (int64_t i = 0; i < n; ++i) dst[i] = out[i] > 0.0f ? g[i] : 0.0f;
}

}  // namespace cnne::cpu
