// fill, axpby and count_nonfinite, CPU reference.
#include "engine/ops.h"

namespace cnne::cpu {

void fill(Context&, const Tensor& t, float value) {
  float* p = t.f32();
  const int64_t n = t.numel();
  for (int64_t i = 0; i < n; ++i) p[i] = value;
}

void axpby(Context&, float alpha, const Tensor& x, float beta, const Tensor& y) {
  const float* a = x.f32();
  float* b = y.f32();
  const int64_t n = y.numel();
  if (beta == 0.0f) {
    for (int64_t i = 0; i < n; ++i) b[i] = alpha * a[i];
    return;
  }
  for (int64_t i = 0; i < n; ++i) b[i] = alpha * a[i] + beta * b[i];
}

void count_nonfinite(Context&, const Tensor& t, const Tensor& count) {
  const float* p = t.f32();
  const int64_t n = t.numel();
  int32_t bad = 0;
  for (int64_t i = 0; i < n; ++i) bad += !(p[i] - p[i] == 0.0f);  // NaN for NaN and Inf
  count.i32()[0] += bad;
}

}  // namespace cnne::cpu
