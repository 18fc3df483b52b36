#pragma once
// The SGD update kernel, launched by engine/sgd_cuda.cu and run on CPU threads
// by the emulated-kernel tests (Note [kernel emulation] in cuda/emulator.h);
// the unnamed namespace gives each file that includes this its own copy.
#include <cstdint>

#include "cuda/device_api.cuh"
#include "engine/ops.h"

namespace cnne::cuda {
namespace {

__global__ void sgd_kernel(float* p, const float* g, float* buf, int64_t n, const SgdHyper* hyper,
                           const LossScaleState* scaling) {
  if (scaling && scaling->found_inf) return;  // a step dynamic loss scaling skips
  const SgdHyper h = *hyper;  // this step's values (Note [graph-safe step arguments])
  // Note [skipped steps]: the first step counted, not the first step run
  const bool first_step = scaling ? h.step - scaling->skipped == 1 : h.first_step != 0;
  for (int64_t i = blockIdx.x * int64_t(blockDim.x) + threadIdx.x; i < n;
       i += int64_t(gridDim.x) * blockDim.x) {
    if (h.decay_factor != 1.0f) p[i] = __fmul_rn(p[i], h.decay_factor);
    float d = g[i];
    if (h.weight_decay != 0.0f) d = __fadd_rn(d, __fmul_rn(h.weight_decay, p[i]));
    if (h.momentum != 0.0f) {
      const float b =
          first_step ? d
                     : __fadd_rn(__fmul_rn(h.momentum, buf[i]), __fmul_rn(1.0f - h.dampening, d));
      buf[i] = b;
      d = h.nesterov ? __fadd_rn(d, __fmul_rn(h.momentum, b)) : b;
    }
    p[i] = __fsub_rn(p[i], __fmul_rn(h.lr, d));  // no FMA contraction: same rounding as the CPU
  }
}

}  // namespace
}  // namespace cnne::cuda
