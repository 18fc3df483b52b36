// Dropout and elementwise multiply, CPU reference.
#include "engine/ops.h"
#include "layers/dropout_mask.h"

namespace cnne::cpu {

void dropout_forward(Context&, float p, float keep_scale, const uint64_t* step_key, uint64_t salt,
                     const Tensor& x, const Tensor& mask, const Tensor& y) {
  const uint64_t key = dropout_key(*step_key, salt);
  const int64_t n = x.numel();
  float* m = mask.f32();
  for (int64_t i = 0; i < n; ++i)
    m[i] = dropout_uniform(key, static_cast<uint64_t>(i)) >= p ? 1.0f : 0.0f;
  const float* in = x.f32();
  float* out = y.f32();
  for (int64_t i = 0; i < n; ++i) out[i] = in[i] * m[i] * keep_scale;
}

void multiply(Context&, const Tensor& a, const Tensor& b, float scale, const Tensor& out) {
  const float *pa = a.f32(), *pb = b.f32();
  float* po = out.f32();
  const int64_t n = out.numel();
  for (int64_t i = 0; i < n; ++i) po[i] = pa[i] * pb[i] * scale;
}

}  // namespace cnne::cpu
