#pragma once
// Mul's kernels (Note [mul geometry] in layers/mul_geometry.h), launched by
// layers/mul_cuda.cu and run on CPU threads by the emulated-kernel tests
// (Note [kernel emulation] in cuda/emulator.h); the unnamed namespace gives
// each file that includes this its own copy.
#include <cstdint>

#include "cuda/device_api.cuh"
#include "cuda/element.cuh"
#include "layers/mul_geometry.h"

namespace cnne::cuda {
namespace {

// out[i] = a[i] * s[mul_gate_index(i)], in float: the forward (a = x), dx
// (a = dy) and, for tensors of one count, ds (a = dy, s = x).
template <class T>
__global__ void mul_kernel(const T* a,  // (count), x's layout
                           const T* s,  // (planes)
                           T* out,      // (count), x's layout
                           MulGeometry g) {
  for (int64_t i = blockIdx.x * int64_t(blockDim.x) + threadIdx.x; i < g.count;
       i += int64_t(gridDim.x) * blockDim.x)
    out[i] = from_float<T>(to_float(a[i]) * to_float(s[mul_gate_index(i, g)]));
}

// A gate's gradient over NCHW x: one warp per (n, c) plane, the exact double
// products dy * x summed in double, lanes strided then a shuffle tree.
template <class T>
__global__ void mul_gate_grad_kernel(const T* dy,  // (N, C, H, W)
                                     const T* x,   // (N, C, H, W)
                                     T* ds,        // (N, C)
                                     MulGeometry g) {
  const int64_t plane = blockIdx.x * int64_t(blockDim.x / 32) + threadIdx.x / 32;
  const int lane = threadIdx.x % 32;
  if (plane >= g.planes) return;
  const int64_t first = plane * g.area;
  double sum = 0;
  for (int64_t i = lane; i < g.area; i += 32)
    sum +=
        static_cast<double>(to_float(dy[first + i])) * static_cast<double>(to_float(x[first + i]));
  for (int offset = 16; offset > 0; offset /= 2) sum += __shfl_down_sync(0xffffffff, sum, offset);
  if (lane == 0) ds[plane] = from_float<T>(static_cast<float>(sum));
}

// Channels-last: one thread per (n, c), consecutive threads on consecutive
// channels (coalesced), its plane summed in order in double.
template <class T>
__global__ void mul_gate_grad_nhwc_kernel(const T* dy,  // (N, H, W, C)
                                          const T* x,   // (N, H, W, C)
                                          T* ds,        // (N, C)
                                          MulGeometry g) {
  const int64_t plane = blockIdx.x * int64_t(blockDim.x) + threadIdx.x;
  if (plane >= g.planes) return;
  const int64_t n = plane / g.channels, c = plane - n * g.channels;
  const int64_t first = n * g.area * g.channels + c;
  double sum = 0;
  for (int64_t i = 0; i < g.area; ++i) {
    const int64_t at = first + i * g.channels;
    sum += static_cast<double>(to_float(dy[at])) * static_cast<double>(to_float(x[at]));
  }
  ds[plane] = from_float<T>(static_cast<float>(sum));
}

}  // namespace
}  // namespace cnne::cuda
