#pragma once
// The Adagrad update kernel, launched by engine/adagrad_cuda.cu and run on CPU
// threads by the emulated-kernel tests (Note [kernel emulation] in
// cuda/emulator.h); the CPU reference's order of operations and its fused
// multiply-adds (AdagradHyper in engine/ops.h), nothing else contracted. The unnamed namespace
// gives each file that includes this its own copy.
#include <cstdint>

#include "cuda/device_api.cuh"
#include "engine/ops.h"

namespace cnne::cuda {
namespace {

__global__ void adagrad_kernel(float* p, const float* g, float* sum, int64_t n,
                               const AdagradHyper* hyper, const LossScaleState* scaling) {
  if (scaling && scaling->found_inf) return;  // a step dynamic loss scaling skips
  AdagradHyper h = *hyper;  // this step's values (Note [graph-safe step arguments])
  // Note [skipped steps]: the decayed rate of the steps counted
  if (scaling && scaling->skipped > 0)
    h.neg_clr = adagrad_neg_clr(h.lr, h.lr_decay, h.step - scaling->skipped);
  for (int64_t i = blockIdx.x * int64_t(blockDim.x) + threadIdx.x; i < n;
       i += int64_t(gridDim.x) * blockDim.x) {
    float grad = g[i];
    if (h.weight_decay != 0.0f) grad = __fmaf_rn(p[i], h.weight_decay, grad);
    const float s = __fmaf_rn(grad, grad, sum[i]);
    sum[i] = s;
    p[i] = __fadd_rn(p[i], __fdiv_rn(__fmul_rn(h.neg_clr, grad), __fadd_rn(__fsqrt_rn(s), h.eps)));
  }
}

}  // namespace
}  // namespace cnne::cuda
