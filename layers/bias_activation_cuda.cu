#include "layers/bias_activation_cuda.h"

#include <algorithm>
#include <string>

#include "cuda/check.h"
#include "cuda/element.cuh"
#include "cuda/launch.h"
#include "layers/bias_activation_kernels.cuh"
#include "layers/relu_math.h"

namespace cnne::cuda {

size_t bias_gradient_scratch_bytes(int64_t k) {
  return sizeof(double) * static_cast<size_t>(k * kBiasChunks);
}

void bias_gradient(CudaContext& cu, const Tensor& dy, float* db, int64_t k, int64_t pq,
                   void* scratch, size_t scratch_bytes, const char* what) {
  if (k == 0 || pq == 0) {  // an empty map: the gradient is zero
    if (k > 0)
      CNNE_CHECK_AT(cudaMemsetAsync(db, 0, sizeof(float) * k, cu.stream()), std::string(what));
    return;
  }
  const int64_t n = dy.numel() / (k * pq);
  // Up to kBiasChunks blocks per channel when the scratch holds their partial
  // sums (the choice depends only on sizes fixed at setup: deterministic).
  int64_t chunks = std::min<int64_t>(kBiasChunks, std::max<int64_t>(n, 1));
  if (scratch_bytes < sizeof(double) * static_cast<size_t>(k * chunks)) chunks = 1;
  const int64_t per_chunk = (n + chunks - 1) / chunks;
  double* partial = chunks > 1 ? static_cast<double*>(scratch) : nullptr;
  const std::string where = std::string(what) + " bias gradient";
  with_float_type(dy.dtype, where, [&](auto tag) {
    using T = typename decltype(tag)::type;
    const dim3 grid(static_cast<unsigned>(k), static_cast<unsigned>(chunks));
    bias_gradient_kernel<T>
        <<<grid, kBiasThreads, 0, cu.stream()>>>(elements<T>(dy), partial, db, n, k, pq, per_chunk);
  });
  CNNE_CHECK_LAUNCH(where);
  if (partial) {
    bias_gradient_finish_kernel<<<blocks_for(k), kThreads, 0, cu.stream()>>>(partial, db, k,
                                                                             chunks);
    CNNE_CHECK_LAUNCH(where + " (finish)");
  }
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
