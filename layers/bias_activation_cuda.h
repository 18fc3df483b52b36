#pragma once
// The epilogue of the GPU conv2d and linear forwards: bias and a fused ReLU in
// one elementwise pass (one kernel where the unfused layers take two or three:
// cudnnAddTensor, then cudnnActivationForward). Under mixed precision it is
// also the bias pass of 16-bit outputs (Note [mixed precision]).
#include <cstdint>

#include "cuda/cuda_context.h"
#include "engine/ops.h"

namespace cnne::cuda {

// y (N, K, PQ) = act(y + b[k]) in place on cu's stream; y F32, BF16 or F16,
// b (K) F32 or null. A linear output (N, O) is the case PQ = 1. `what` names
// the caller in errors.
void add_bias_activation(CudaContext& cu, const Tensor& y, const float* b, int64_t k, int64_t pq,
                         FusedActivation act, const char* what);

// db (K) F32 = the sum of dy (N, K, PQ) over N and PQ, dy F32, BF16 or F16,
// in double, in a fixed order (deterministic): up to 32 image chunks per
// channel side by side when `scratch` holds bias_gradient_scratch_bytes(K)
// (the context's workspace), else one block per channel.
void bias_gradient(CudaContext& cu, const Tensor& dy, float* db, int64_t k, int64_t pq,
                   void* scratch, size_t scratch_bytes, const char* what);
size_t bias_gradient_scratch_bytes(int64_t k);

}  // namespace cnne::cuda
