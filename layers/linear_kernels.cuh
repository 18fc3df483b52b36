#pragma once
// Linear's bias kernel (the bias is broadcast into y before cuBLAS adds x W^T
// to it), launched by layers/linear_cuda.cu and run on CPU threads by the
// emulated-kernel tests (Note [kernel emulation] in cuda/emulator.h); the
// unnamed namespace gives each file that includes this its own copy.
#include <cstdint>

#include "cuda/device_api.cuh"
#include "cuda/element.cuh"

namespace cnne::cuda {
namespace {

// y (N, O) row r = b (rounded to y's type)
template <class T>
__global__ void broadcast_rows_kernel(T* y, const float* b, int64_t n, int64_t o) {
  for (int64_t i = blockIdx.x * int64_t(blockDim.x) + threadIdx.x; i < n * o;
       i += int64_t(gridDim.x) * blockDim.x)
    y[i] = from_float<T>(b[i % o]);
}

}  // namespace
}  // namespace cnne::cuda
