#include "layers/init.h"

#include <cmath>

namespace cnne {

void init_uniform_fan_in(Rng& rng, const Tensor& t, int64_t fan_in) {
  const float bound = 1.0f / std::sqrt(static_cast<float>(fan_in));
  float* p = t.f32();
  for (int64_t i = 0; i < t.numel(); ++i) p[i] = rng.uniform(-bound, bound);
}

}  // namespace cnne
