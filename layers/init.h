#pragma once
// PyTorch's default initialization of Conv2d and Linear: the weight by
// kaiming_uniform_(a=sqrt(5)) and the bias by U(-1/sqrt(fan_in), 1/sqrt(fan_in));
// both bounds reduce to 1/sqrt(fan_in).
#include <cstdint>

#include "engine/rng.h"
#include "engine/tensor.h"

namespace cnne {

// Fills host tensor t (F32) with U(-1/sqrt(fan_in), 1/sqrt(fan_in)).
void init_uniform_fan_in(Rng& rng, const Tensor& t, int64_t fan_in);

}  // namespace cnne
