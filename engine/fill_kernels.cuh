#pragma once
// The kernels of fill, axpby, add, copy_to_two, count_nonfinite, convert and
// loss scaling, launched by engine/fill_cuda.cu and run on CPU threads by the
// emulated-kernel tests (Note [kernel emulation] in cuda/emulator.h); the
// unnamed namespace gives each file that includes this its own copy.
#include <cstdint>

#include "cuda/device_api.cuh"
#include "cuda/element.cuh"
#include "engine/layout.h"
#include "engine/loss_scale_rule.h"
#include "engine/ops.h"
#include "layers/relu_math.h"

namespace cnne::cuda {
namespace {

template <class T>
__global__ void fill_kernel(T* p, int64_t n, float value) {
  const T v = from_float<T>(value);
  for (int64_t i = blockIdx.x * int64_t(blockDim.x) + threadIdx.x; i < n;
       i += int64_t(gridDim.x) * blockDim.x)
    p[i] = v;
}

template <class X, class Y>
__global__ void axpby_kernel(float alpha, const X* x, float beta, Y* y, int64_t n) {
  for (int64_t i = blockIdx.x * int64_t(blockDim.x) + threadIdx.x; i < n;
       i += int64_t(gridDim.x) * blockDim.x) {
    const float a = to_float(x[i]);
    y[i] = from_float<Y>(beta == 0.0f
                             ? __fmul_rn(alpha, a)
                             : __fadd_rn(__fmul_rn(alpha, a), __fmul_rn(beta, to_float(y[i]))));
  }
}

template <class T, bool kRelu>
__global__ void add_kernel(const T* a, const T* b, T* y, int64_t n) {
  for (int64_t i = blockIdx.x * int64_t(blockDim.x) + threadIdx.x; i < n;
       i += int64_t(gridDim.x) * blockDim.x) {
    const float v = __fadd_rn(to_float(a[i]), to_float(b[i]));
    y[i] = from_float<T>(kRelu ? relu_value(v) : v);
  }
}

template <class T>
__global__ void copy_to_two_kernel(const T* x, T* y0, T* y1, int64_t n) {
  for (int64_t i = blockIdx.x * int64_t(blockDim.x) + threadIdx.x; i < n;
       i += int64_t(gridDim.x) * blockDim.x)
    y0[i] = y1[i] = x[i];
}

template <class T>
__global__ void count_nonfinite_kernel(const T* p, int64_t n, int32_t* count) {
  int32_t bad = 0;
  for (int64_t i = blockIdx.x * int64_t(blockDim.x) + threadIdx.x; i < n;
       i += int64_t(gridDim.x) * blockDim.x)
    bad += !isfinite(to_float(p[i]));
  if (bad) atomicAdd(count, bad);
}

template <class S, class D>
__global__ void convert_kernel(const S* src, D* dst, int64_t n) {
  for (int64_t i = blockIdx.x * int64_t(blockDim.x) + threadIdx.x; i < n;
       i += int64_t(gridDim.x) * blockDim.x)
    dst[i] = from_float<D>(to_float(src[i]));
}

// Between layouts (Note [channels last]): dst element i reads its source element.
template <class S, class D>
__global__ void convert_layout_kernel(const S* src, D* dst, int64_t n, int64_t c, int64_t hw,
                                      bool to_channels_last) {
  for (int64_t i = blockIdx.x * int64_t(blockDim.x) + threadIdx.x; i < n;
       i += int64_t(gridDim.x) * blockDim.x)
    dst[i] = from_float<D>(
        to_float(src[to_channels_last ? nchw_of_nhwc(i, c, hw) : nhwc_of_nchw(i, c, hw)]));
}

__global__ void unscale_kernel(const float* scale, float* g, int64_t n, int32_t* count) {
  const float inverse = 1.0f / *scale;  // the CPU's 1 / scale, then a multiply
  int32_t bad = 0;
  for (int64_t i = blockIdx.x * int64_t(blockDim.x) + threadIdx.x; i < n;
       i += int64_t(gridDim.x) * blockDim.x) {
    const float v = __fmul_rn(inverse, g[i]);
    g[i] = v;
    bad += !isfinite(v);
  }
  if (count && bad) atomicAdd(count, bad);
}

__global__ void update_loss_scale_kernel(LossScaleState* s, int32_t growth_interval) {
  advance_loss_scale(*s, growth_interval);
}

}  // namespace
}  // namespace cnne::cuda
