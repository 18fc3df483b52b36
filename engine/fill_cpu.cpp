// fill and count_nonfinite, CPU reference.
#include "engine/ops.h"

namespace cnne::cpu {

void fill(Context&, const Tensor& t, float value) {
  float* p = t.f32();
  const int64_t n = t.numel();
  for (int64_t i = 0; i < n; ++i) p[i] = value;
}

void count_nonfinite(Context&, const Tensor& t, const Tensor& count) {
  const float* p = t.f32();
  const int64_t n = t.numel();
  int32_t bad = 0;
  for (int64_t i = 0; i < n; ++i) bad += !(p[i] - p[i] == 0.0f);  // NaN for NaN and Inf
  count.i32()[0] = bad;
}

}  // namespace cnne::cpu
