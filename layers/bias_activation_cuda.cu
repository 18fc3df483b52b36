#include "layers/bias_activation_cuda.h"

#include <algorithm>
#include <string>

#include "cuda/check.h"
#include "cuda/element.cuh"
#include "cuda/launch.h"
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
  for (int stride = blockDim.x / 2; stride > 0; stride /= 2) {
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
