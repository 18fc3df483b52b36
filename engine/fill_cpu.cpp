// fill, CPU reference.
#include "engine/ops.h"

namespace cnne::cpu {

void fill(Context&, const Tensor& t, float value) {
  float* p = t.f32();
  const int64_t n = t.numel();
  for (int64_t i = 0; i < n; ++i) p[i] = value;
}

}  // namespace cnne::cpu
