#pragma once
// PReLU's kernels (layers/prelu_geometry.h), launched by layers/prelu_cuda.cu
// and run on CPU threads by the emulated-kernel tests (Note [kernel
// emulation] in cuda/emulator.h); the unnamed namespace gives each file that
// includes this its own copy.
#include <cstdint>

#include "cuda/block_sum.cuh"
#include "cuda/device_api.cuh"
#include "cuda/element.cuh"
#include "layers/prelu_geometry.h"

namespace cnne::cuda {
namespace {

constexpr int kPreluThreads = 256;

// out[i] = x[i] > 0 ? a[i] : w * a[i]: the forward (a = x) and dx (a = dy).
template <class T>
__global__ void prelu_kernel(const T* x,           // (count), x's layout
                             const T* a,           // (count), x's layout
                             const float* weight,  // (weights)
                             T* out,               // (count), x's layout
                             PreluGeometry g) {
  for (int64_t i = blockIdx.x * int64_t(blockDim.x) + threadIdx.x; i < g.count;
       i += int64_t(gridDim.x) * blockDim.x) {
    const float v = to_float(a[i]);
    out[i] = from_float<T>(to_float(x[i]) > 0.0f ? v : weight[prelu_weight_index(i, g)] * v);
  }
}

// dweight[w]: block w sums its slope's negative elements' exact double
// products x * dy, each thread a stride of them in order, then the block's
// fixed-order sum. kPreluThreads threads a block.
template <class T>
__global__ void prelu_weight_grad_kernel(const T* x,      // (count), x's layout
                                         const T* dy,     // (count), x's layout
                                         float* dweight,  // (weights)
                                         PreluGeometry g) {
  const int64_t w = blockIdx.x;
  double sum = 0, unused = 0;
  for (int64_t k = threadIdx.x; k < g.per_weight(); k += kPreluThreads) {
    const int64_t i = prelu_element(w, k, g);
    const float v = to_float(x[i]);
    if (!(v > 0.0f)) sum += static_cast<double>(v) * static_cast<double>(to_float(dy[i]));
  }
  block_sum_pair<kPreluThreads>(sum, unused);
  if (threadIdx.x == 0) dweight[w] = static_cast<float>(sum);
}

}  // namespace
}  // namespace cnne::cuda
