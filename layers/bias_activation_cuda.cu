#include "layers/bias_activation_cuda.h"

#include <string>

#include "cuda/check.h"
#include "cuda/launch.h"

namespace cnne::cuda {
namespace {

// The relu op's rule (layers/relu_math.h): NaN stays NaN.
__device__ __forceinline__ float relu_value(float v) {
  return (v > 0.0f || v != v) ? v : 0.0f;
}

// y (N, K, PQ): element i belongs to channel (i / PQ) % K.
template <bool kRelu>
__global__ void bias_activation_kernel(float* y, const float* b, int64_t total, int64_t k,
                                       int64_t pq) {
  for (int64_t i = blockIdx.x * int64_t(blockDim.x) + threadIdx.x; i < total;
       i += int64_t(gridDim.x) * blockDim.x) {
    float v = y[i];
    if (b) v += b[(i / pq) % k];
    y[i] = kRelu ? relu_value(v) : v;
  }
}

}  // namespace

void add_bias_activation(CudaContext& cu, float* y, const float* b, int64_t n, int64_t k,
                         int64_t pq, FusedActivation act, const char* what) {
  const int64_t total = n * k * pq;
  if (total == 0 || (!b && act == FusedActivation::kNone)) return;
  if (act == FusedActivation::kRelu)
    bias_activation_kernel<true>
        <<<blocks_for(total), kThreads, 0, cu.stream()>>>(y, b, total, k, pq);
  else
    bias_activation_kernel<false>
        <<<blocks_for(total), kThreads, 0, cu.stream()>>>(y, b, total, k, pq);
  CNNE_CHECK_LAUNCH(std::string(what) + " bias/activation epilogue");
}

}  // namespace cnne::cuda
