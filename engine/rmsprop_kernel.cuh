#pragma once
// The RMSprop update kernel, launched by engine/rmsprop_cuda.cu and run on CPU
// threads by the emulated-kernel tests (Note [kernel emulation] in
// cuda/emulator.h); the CPU reference's order of operations and its fused
// multiply-adds (RmspropHyper in engine/ops.h), nothing else contracted. The unnamed namespace
// gives each file that includes this its own copy.
#include <cstdint>

#include "cuda/device_api.cuh"
#include "engine/ops.h"

namespace cnne::cuda {
namespace {

// buf null: no momentum; grad_avg null: not centered.
__global__ void rmsprop_kernel(float* p, const float* g, float* square_avg, float* buf,
                               float* grad_avg, int64_t n, const RmspropHyper* hyper,
                               const LossScaleState* scaling) {
  if (scaling && scaling->found_inf) return;  // a step dynamic loss scaling skips
  const RmspropHyper h = *hyper;  // this step's values (Note [graph-safe step arguments])
  const bool momentum = buf && h.momentum > 0.0f;
  for (int64_t i = blockIdx.x * int64_t(blockDim.x) + threadIdx.x; i < n;
       i += int64_t(gridDim.x) * blockDim.x) {
    float grad = g[i];
    if (h.weight_decay != 0.0f) grad = __fmaf_rn(p[i], h.weight_decay, grad);
    const float sq =
        __fmaf_rn(__fmul_rn(h.one_minus_alpha, grad), grad, __fmul_rn(square_avg[i], h.alpha));
    square_avg[i] = sq;
    float avg;
    if (grad_avg) {
      const float ga = __fmaf_rn(grad, h.one_minus_alpha, __fmul_rn(grad_avg[i], h.alpha));
      grad_avg[i] = ga;
      avg = __fadd_rn(__fsqrt_rn(__fmaf_rn(-ga, ga, sq)), h.eps);
    } else {
      avg = __fadd_rn(__fsqrt_rn(sq), h.eps);
    }
    if (momentum) {
      const float b = __fadd_rn(__fmul_rn(buf[i], h.momentum), __fdiv_rn(grad, avg));
      buf[i] = b;
      p[i] = __fmaf_rn(b, h.neg_lr, p[i]);
    } else {
      p[i] = __fadd_rn(p[i], __fdiv_rn(__fmul_rn(h.neg_lr, grad), avg));
    }
  }
}

}  // namespace
}  // namespace cnne::cuda
