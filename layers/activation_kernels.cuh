#pragma once
// The activations' kernels (layers/activation_math.h), launched by
// layers/activation_cuda.cu and run on CPU threads by the emulated-kernel
// tests (Note [kernel emulation] in cuda/emulator.h); the unnamed namespace
// gives each file that includes this its own copy.
#include <cstdint>

#include "cuda/device_api.cuh"
#include "cuda/element.cuh"
#include "layers/activation_math.h"

namespace cnne::cuda {
namespace {

template <class T, Activation K>
__global__ void activation_forward_kernel(const T* x, T* y, int64_t n, float param) {
  for (int64_t i = blockIdx.x * int64_t(blockDim.x) + threadIdx.x; i < n;
       i += int64_t(gridDim.x) * blockDim.x)
    y[i] = from_float<T>(activation_value<K>(to_float(x[i]), param));
}

template <class T, Activation K>
__global__ void activation_backward_kernel(const T* x, const T* y, const T* dy, T* dx, int64_t n,
                                           float param) {
  for (int64_t i = blockIdx.x * int64_t(blockDim.x) + threadIdx.x; i < n;
       i += int64_t(gridDim.x) * blockDim.x)
    dx[i] = from_float<T>(
        activation_gradient<K>(to_float(x[i]), to_float(y[i]), to_float(dy[i]), param));
}

}  // namespace
}  // namespace cnne::cuda
