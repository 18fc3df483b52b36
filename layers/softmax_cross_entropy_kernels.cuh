#pragma once
// Softmax cross-entropy's kernels, launched by
// layers/softmax_cross_entropy_cuda.cu and run on CPU threads by the emulated-
// kernel tests (Note [kernel emulation] in cuda/emulator.h); the unnamed
// namespace gives each file that includes this its own copy.
#include <cmath>
#include <cstdint>

#include "cuda/device_api.cuh"
#include "cuda/element.cuh"

namespace cnne::cuda {
namespace {

constexpr int kCeThreads = 256;

template <class T>
__global__ void softmax_cross_entropy_kernel(const T* logits, const int32_t* labels,
                                             const int32_t* labels_b, const float* mix_lambda,
                                             float smoothing, const float* grad_scale, T* dlogits,
                                             float* loss_sum, int32_t* correct, int64_t n,
                                             int64_t k) {
  // labels_b and mix_lambda: a mixed batch's second labels and their weight
  // (Note [batch mixing] in engine/mixing.h); null otherwise.
  const double eps = smoothing, off = eps / static_cast<double>(k), on = 1.0 - eps + off;
  const double lam = labels_b ? static_cast<double>(*mix_lambda) : 1.0;
  const double scale = grad_scale ? *grad_scale : 1.0;
  __shared__ double loss_part[kCeThreads];
  __shared__ int hits_part[kCeThreads];
  double loss = 0.0;
  int hits = 0;
  for (int64_t i = threadIdx.x; i < n; i += blockDim.x) {
    const T* row = logits + i * k;
    const int32_t label = labels[i], other = labels_b ? labels_b[i] : label;
    if (label < 0 || label >= k || other < 0 || other >= k) {
      // never read outside the row: poison the loss and gradient
      loss += nan("");
      if (dlogits)
        for (int64_t j = 0; j < k; ++j) dlogits[i * k + j] = from_float<T>(nanf(""));
      continue;
    }
    int64_t best = 0;
    for (int64_t j = 1; j < k; ++j)
      if (to_float(row[j]) > to_float(row[best])) best = j;
    hits += best == (lam >= 0.5 ? label : other);
    const double mx = to_float(row[best]);
    double sum = 0.0;
    for (int64_t j = 0; j < k; ++j) sum += exp(static_cast<double>(to_float(row[j])) - mx);
    const double log_sum = log(sum);
    double nll = -(static_cast<double>(to_float(row[label])) - mx - log_sum);
    if (labels_b)
      nll = lam * nll + (1.0 - lam) * -(static_cast<double>(to_float(row[other])) - mx - log_sum);
    if (eps == 0.0) {
      loss += nll;
    } else {
      double sum_neg_logp = 0.0;
      for (int64_t j = 0; j < k; ++j)
        sum_neg_logp -= static_cast<double>(to_float(row[j])) - mx - log_sum;
      loss += (1.0 - eps) * nll + eps * sum_neg_logp / static_cast<double>(k);
    }
    if (dlogits) {
      T* g = dlogits + i * k;
      for (int64_t j = 0; j < k; ++j) {
        const double prob = exp(static_cast<double>(to_float(row[j])) - mx - log_sum);
        double target = j == label ? on : off;
        if (labels_b) target = lam * target + (1.0 - lam) * (j == other ? on : off);
        g[j] = from_float<T>(static_cast<float>((prob - target) / static_cast<double>(n) * scale));
      }
    }
  }
  loss_part[threadIdx.x] = loss;
  hits_part[threadIdx.x] = hits;
  __syncthreads();
  for (unsigned stride = blockDim.x / 2; stride > 0; stride /= 2) {
    if (threadIdx.x < stride) {
      loss_part[threadIdx.x] += loss_part[threadIdx.x + stride];
      hits_part[threadIdx.x] += hits_part[threadIdx.x + stride];
    }
    __syncthreads();
  }
  if (threadIdx.x == 0 && n > 0) {
    loss_sum[0] += static_cast<float>(loss_part[0] / static_cast<double>(n));
    correct[0] += hits_part[0];
  }
}

template <class T>
__global__ void argmax_rows_kernel(const T* logits, int32_t* predictions, int64_t n, int64_t k) {
  for (int64_t i = blockIdx.x * int64_t(blockDim.x) + threadIdx.x; i < n;
       i += int64_t(gridDim.x) * blockDim.x) {
    const T* row = logits + i * k;
    int64_t best = 0;
    for (int64_t j = 1; j < k; ++j)
      if (to_float(row[j]) > to_float(row[best])) best = j;
    predictions[i] = static_cast<int32_t>(best);
  }
}

}  // namespace
}  // namespace cnne::cuda
