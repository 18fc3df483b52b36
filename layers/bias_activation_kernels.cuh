#pragma once
// The bias, bias + ReLU and bias gradient kernels, launched by
// layers/bias_activation_cuda.cu and run on CPU threads by the emulated-kernel
// tests (Note [kernel emulation] in cuda/emulator.h); the unnamed namespace
// gives each file that includes this its own copy.
#include <cstdint>

#include "cuda/device_api.cuh"
#include "cuda/element.cuh"
#include "layers/relu_math.h"

namespace cnne::cuda {
namespace {

// y (N, K, PQ): element i belongs to channel (i / PQ) % K.
template <class T, bool kRelu>
__global__ void bias_activation_kernel(T* y, const float* b, int64_t total, int64_t k, int64_t pq) {
  for (int64_t i = blockIdx.x * int64_t(blockDim.x) + threadIdx.x; i < total;
       i += int64_t(gridDim.x) * blockDim.x) {
    float v = to_float(y[i]);
    if (b) v += b[(i / pq) % k];
    y[i] = from_float<T>(kRelu ? relu_value(v) : v);
  }
}

constexpr int kBiasThreads = 256;
constexpr int64_t kBiasChunks = 32;  // image chunks summed side by side, then in order

// Block (c, s) sums channel c over the images of chunk s, then a tree in
// shared memory; the sum goes to partial[c * chunks + s], or straight to
// db[c] when there is one chunk. With planes of at least a warp (conv2d) the
// threads walk each image's plane side by side (coalesced, no division); with
// smaller ones (linear: PQ = 1) thread t takes elements t, t + blockDim, ...
template <class T>
__global__ void bias_gradient_kernel(const T* dy, double* partial, float* db, int64_t n, int64_t k,
                                     int64_t pq, int64_t per_chunk) {
  __shared__ double part[kBiasThreads];
  const int64_t c = blockIdx.x, chunk = blockIdx.y;
  const int64_t first = chunk * per_chunk, last = min(n, first + per_chunk);
  double sum = 0.0;
  if (pq >= 32) {
    for (int64_t image = first; image < last; ++image) {
      const T* plane = dy + (image * k + c) * pq;
      for (int64_t position = threadIdx.x; position < pq; position += blockDim.x)
        sum += to_float(plane[position]);
    }
  } else {
    for (int64_t e = first * pq + threadIdx.x; e < last * pq; e += blockDim.x) {
      const int64_t image = e / pq, position = e % pq;
      sum += to_float(dy[(image * k + c) * pq + position]);
    }
  }
  part[threadIdx.x] = sum;
  __syncthreads();
  for (unsigned stride = blockDim.x / 2; stride > 0; stride /= 2) {
    if (threadIdx.x < stride) part[threadIdx.x] += part[threadIdx.x + stride];
    __syncthreads();
  }
  if (threadIdx.x != 0) return;
  if (partial)
    partial[c * gridDim.y + chunk] = part[0];
  else
    db[c] = static_cast<float>(part[0]);
}

// db[c] = the chunks' partial sums of channel c, added in order.
__global__ void bias_gradient_finish_kernel(const double* partial, float* db, int64_t k,
                                            int64_t chunks) {
  for (int64_t c = blockIdx.x * int64_t(blockDim.x) + threadIdx.x; c < k;
       c += int64_t(gridDim.x) * blockDim.x) {
    double sum = 0.0;
    for (int64_t s = 0; s < chunks; ++s) sum += partial[c * chunks + s];
    db[c] = static_cast<float>(sum);
  }
}

}  // namespace
}  // namespace cnne::cuda
