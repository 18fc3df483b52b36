#pragma once
// The Adam update kernel, launched by engine/adam_cuda.cu and run on CPU
// threads by the emulated-kernel tests (Note [kernel emulation] in
// cuda/emulator.h); the unnamed namespace gives each file that includes this
// its own copy.
#include <cstdint>

#include "cuda/device_api.cuh"
#include "engine/ops.h"

namespace cnne::cuda {
namespace {

// vmax null: Adam; else AMSGrad (the running maximum of v in the denominator).
__global__ void adam_kernel(float* p, const float* g, float* m, float* v, float* vmax, int64_t n,
                            const AdamHyper* hyper, const LossScaleState* scaling) {
  if (scaling && scaling->found_inf) return;  // a step dynamic loss scaling skips
  AdamHyper h = *hyper;  // this step's values (Note [graph-safe step arguments])
  if (scaling && scaling->skipped > 0) {
    // Note [skipped steps]: the bias corrections of the steps counted, once per block
    __shared__ float corrections[2];
    if (threadIdx.x == 0)
      adam_bias_corrections(h.lr, h.beta1_d, h.beta2_d, h.step - scaling->skipped, &corrections[0],
                            &corrections[1]);
    __syncthreads();
    h.step_size = corrections[0];
    h.bias_correction2_sqrt = corrections[1];
  }
  const float neg_step = -h.step_size;
  for (int64_t i = blockIdx.x * int64_t(blockDim.x) + threadIdx.x; i < n;
       i += int64_t(gridDim.x) * blockDim.x) {
    const float param = __fmul_rn(p[i], h.decay_factor);
    const float grad = __fadd_rn(g[i], __fmul_rn(h.weight_decay, param));
    const float mi = __fadd_rn(__fmul_rn(m[i], h.beta1), __fmul_rn(grad, h.one_minus_beta1));
    const float vi =
        __fadd_rn(__fmul_rn(v[i], h.beta2), __fmul_rn(__fmul_rn(h.one_minus_beta2, grad), grad));
    m[i] = mi;
    v[i] = vi;
    float second = vi;
    if (vmax) second = vmax[i] = nan_max(vmax[i], vi);
    const float denom = __fadd_rn(__fdiv_rn(__fsqrt_rn(second), h.bias_correction2_sqrt), h.eps);
    p[i] = __fadd_rn(param, __fdiv_rn(__fmul_rn(neg_step, mi), denom));
  }
}

}  // namespace
}  // namespace cnne::cuda
