#pragma once
// Dropout's kernels, launched by layers/dropout_cuda.cu and run on CPU threads
// by the emulated-kernel tests (Note [kernel emulation] in cuda/emulator.h);
// the unnamed namespace gives each file that includes this its own copy.
#include <cstdint>

#include "cuda/device_api.cuh"
#include "cuda/element.cuh"
#include "layers/dropout_mask.h"

namespace cnne::cuda {
namespace {

template <class T>
__global__ void dropout_kernel(float p, float keep_scale, const uint64_t* step_key, uint64_t salt,
                               bool per_channel, int64_t plane, int64_t channels, bool nhwc,
                               const T* x, T* mask, T* y, int64_t n) {
  const uint64_t key = dropout_key(*step_key, salt);
  for (int64_t i = blockIdx.x * int64_t(blockDim.x) + threadIdx.x; i < n;
       i += int64_t(gridDim.x) * blockDim.x) {
    const uint64_t draw = dropout_draw_index(i, per_channel, plane, channels, nhwc);
    const float m = dropout_uniform(key, draw) >= p ? 1.0f : 0.0f;
    mask[i] = from_float<T>(m);
    y[i] = from_float<T>(__fmul_rn(__fmul_rn(to_float(x[i]), m), keep_scale));
  }
}

template <class T>
__global__ void multiply_kernel(const T* a, const T* b, float scale, T* out, int64_t n) {
  for (int64_t i = blockIdx.x * int64_t(blockDim.x) + threadIdx.x; i < n;
       i += int64_t(gridDim.x) * blockDim.x)
    out[i] = from_float<T>(__fmul_rn(__fmul_rn(to_float(a[i]), to_float(b[i])), scale));
}

}  // namespace
}  // namespace cnne::cuda
