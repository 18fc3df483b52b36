#include "layers/bias_activation_cuda.h"

#include <string>

#include "cuda/check.h"
#include "cuda/element.cuh"
#include "cuda/launch.h"

namespace cnne::cuda {
namespace {

// The relu op's rule (layers/relu_math.h): NaN stays NaN.
__device__ __forceinline__ float relu_value(float v) {
  return (v > 0.0f || v != v) ? v : 0.0f;
}

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

// Block c sums channel c, then a tree in shared memory. With planes of at
// least a warp (conv2d), the threads walk each image's plane side by side
// (coalesced, no division); with smaller ones (linear: PQ = 1), thread t
// takes elements t, t + blockDim, ... of the channel's N * PQ.
template <class T>
__global__ void bias_gradient_kernel(const T* dy, float* db, int64_t n, int64_t k, int64_t pq) {
  __shared__ double part[kBiasThreads];
  const int64_t c = blockIdx.x;
  double sum = 0.0;
  if (pq >= 32) {
    for (int64_t image = 0; image < n; ++image) {
      const T* plane = dy + (image * k + c) * pq;
      for (int64_t position = threadIdx.x; position < pq; position += blockDim.x)
        sum += to_float(plane[position]);
    }
  } else {
    for (int64_t e = threadIdx.x; e < n * pq; e += blockDim.x) {
      const int64_t image = e / pq, position = e % pq;
      sum += to_float(dy[(image * k + c) * pq + position]);
    }
  }
  part[threadIdx.x] = sum;
  __syncthreads();
  for (int stride = blockDim.x / 2; stride > 0; stride /= 2) {
    if (threadIdx.x < stride) part[threadIdx.x] += part[threadIdx.x + stride];
    __syncthreads();
  }
  if (threadIdx.x == 0) db[c] = static_cast<float>(part[0]);
}

}  // namespace

void bias_gradient(CudaContext& cu, const Tensor& dy, float* db, int64_t k, int64_t pq,
                   const char* what) {
  if (k == 0 || pq == 0) {  // an empty map: the gradient is zero
    if (k > 0)
      CNNE_CHECK_AT(cudaMemsetAsync(db, 0, sizeof(float) * k, cu.stream()), std::string(what));
    return;
  }
  const int64_t n = dy.numel() / (k * pq);
  const std::string where = std::string(what) + " bias gradient";
  with_float_type(dy.dtype, where, [&](auto tag) {
    using T = typename decltype(tag)::type;
    bias_gradient_kernel<T>
        <<<static_cast<unsigned>(k), kBiasThreads, 0, cu.stream()>>>(elements<T>(dy), db, n, k, pq);
  });
  CNNE_CHECK_LAUNCH(where);
}

void add_bias_activation(CudaContext& cu, const Tensor& y, const float* b, int64_t k, int64_t pq,
                         FusedActivation act, const char* what) {
  const int64_t total = y.numel();
  if (total == 0 || (!b && act == FusedActivation::kNone)) return;
  const std::string where = std::string(what) + " bias/activation epilogue";
  with_float_type(y.dtype, where, [&](auto tag) {
    using T = typename decltype(tag)::type;
    if (act == FusedActivation::kRelu)
      bias_activation_kernel<T, true>
          <<<blocks_for(total), kThreads, 0, cu.stream()>>>(elements<T>(y), b, total, k, pq);
    else
      bias_activation_kernel<T, false>
          <<<blocks_for(total), kThreads, 0, cu.stream()>>>(elements<T>(y), b, total, k, pq);
  });
  CNNE_CHECK_LAUNCH(where);
}

}  // namespace cnne::cuda
