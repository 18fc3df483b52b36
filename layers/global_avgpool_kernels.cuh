#pragma once
// Global average pooling's kernels, launched by layers/global_avgpool_cuda.cu
// and run on CPU threads by the emulated-kernel tests (Note [kernel emulation]
// in cuda/emulator.h); the unnamed namespace gives each file that includes
// this its own copy.
#include <cstdint>

#include "cuda/device_api.cuh"
#include "cuda/element.cuh"

namespace cnne::cuda {
namespace {

template <class T>
__global__ void global_avgpool_kernel(const T* x, T* y, int64_t planes, int64_t area) {
  const int64_t plane = blockIdx.x * int64_t(blockDim.x / 32) + threadIdx.x / 32;
  const int lane = threadIdx.x % 32;
  if (plane >= planes) return;
  const T* xp = x + plane * area;
  double sum = 0;
  for (int64_t i = lane; i < area; i += 32) sum += to_float(xp[i]);
  for (int offset = 16; offset > 0; offset /= 2) sum += __shfl_down_sync(0xffffffff, sum, offset);
  if (lane == 0) y[plane] = from_float<T>(static_cast<float>(sum / static_cast<double>(area)));
}

template <class T>
__global__ void global_avgpool_backward_kernel(const T* dy, T* dx, int64_t planes, int64_t area) {
  const float divisor = static_cast<float>(area);
  for (int64_t i = blockIdx.x * int64_t(blockDim.x) + threadIdx.x; i < planes * area;
       i += int64_t(gridDim.x) * blockDim.x)
    dx[i] = from_float<T>(__fdiv_rn(to_float(dy[i / area]), divisor));  // the CPU's dy / area
}

// Channels-last forward: thread p = n*C + c sums its plane's values (stride C)
// in order, in double, and rounds as global_avgpool_kernel does.
template <class T>
__global__ void global_avgpool_nhwc_kernel(const T* x,  // (N, H, W, C)
                                           T* y,        // (N, C, 1, 1)
                                           int64_t planes, int64_t channels, int64_t area) {
  const int64_t plane = blockIdx.x * int64_t(blockDim.x) + threadIdx.x;
  if (plane >= planes) return;
  const int64_t n = plane / channels, c = plane - n * channels;
  const T* xp = x + n * area * channels + c;
  double sum = 0;
  for (int64_t i = 0; i < area; ++i) sum += to_float(xp[i * channels]);
  y[plane] = from_float<T>(static_cast<float>(sum / static_cast<double>(area)));
}

// Channels-last backward: dx[i] (NHWC) = dy[n, c] / area.
template <class T>
__global__ void global_avgpool_backward_nhwc_kernel(const T* dy,  // (N, C, 1, 1)
                                                    T* dx,        // (N, H, W, C)
                                                    int64_t planes, int64_t channels,
                                                    int64_t area) {
  const float divisor = static_cast<float>(area);
  const int64_t image = area * channels;
  for (int64_t i = blockIdx.x * int64_t(blockDim.x) + threadIdx.x; i < planes * area;
       i += int64_t(gridDim.x) * blockDim.x) {
    const int64_t n = i / image, c = i % channels;
    dx[i] = from_float<T>(__fdiv_rn(to_float(dy[n * channels + c]), divisor));
  }
}

}  // namespace
}  // namespace cnne::cuda
