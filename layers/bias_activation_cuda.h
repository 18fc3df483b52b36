#pragma once
// The epilogue of the GPU conv2d and linear forwards: bias and a fused ReLU in
// one elementwise pass (one kernel where the unfused layers take two or three:
// cudnnAddTensor, then cudnnActivationForward).
#include <cstdint>

#include "cuda/cuda_context.h"
#include "engine/ops.h"

namespace cnne::cuda {

// y (N, K, PQ) = act(y + b[k]) in place on cu's stream; b (K) may be null.
// A linear output (N, O) is the case PQ = 1. `what` names the caller in errors.
void add_bias_activation(CudaContext& cu, float* y, const float* b, int64_t n, int64_t k,
                         int64_t pq, FusedActivation act, const char* what);

}  // namespace cnne::cuda
