#pragma once
// The small arithmetic of the fused step's phases (Note [fused step] in
// engine/fused_step.h), host and device: finiteness, counting, dot products
// in four running sums, the conv partial-sum groups, one element of SGD or
// Adam in the CPU reference's order.
#include <atomic>
#include <cfloat>
#include <cmath>
#include <cstdint>

#include "engine/fused_plan.h"
#include "engine/host_device.h"

namespace cnne {

CNNE_HOST_DEVICE inline bool fused_is_finite(float v) {
  return v == v && v <= FLT_MAX && v >= -FLT_MAX;
}

// Atomic on the host too: the emulated kernel (Note [kernel emulation] in
// cuda/emulator.h) runs the phases on many CPU threads.
CNNE_HOST_DEVICE inline void fused_count(int32_t* count) {
#ifdef __CUDA_ARCH__
  atomicAdd(count, 1);
#else
  std::atomic_ref<int32_t>(*count).fetch_add(1, std::memory_order_relaxed);
#endif
}

// sum_j a[j] b[j] in four running sums (more products in flight on the GPU),
// added pairwise at the end.
// With strides: sum_j a[j * as] b[j * bs].
CNNE_HOST_DEVICE inline float fused_dot(const float* a, int64_t as, const float* b, int64_t bs,
                                        int n) {
  float s0 = 0.0f, s1 = 0.0f, s2 = 0.0f, s3 = 0.0f;
  int j = 0;
  for (; j + 4 <= n; j += 4) {
    s0 = s0 + a[j * as] * b[j * bs];
    s1 = s1 + a[(j + 1) * as] * b[(j + 1) * bs];
    s2 = s2 + a[(j + 2) * as] * b[(j + 2) * bs];
    s3 = s3 + a[(j + 3) * as] * b[(j + 3) * bs];
  }
  for (; j < n; ++j) s0 = s0 + a[j * as] * b[j * bs];
  return (s0 + s1) + (s2 + s3);
}

// Row groups of a conv stage's dW partial sums for a batch of n.
CNNE_HOST_DEVICE inline int64_t fused_splits(const FusedStage& st, int64_t n) {
  return (n * st.p + st.rows_per_split - 1) / st.rows_per_split;
}

// torch.optim.SGD on one element, in the order of engine/sgd_cpu.cpp.
CNNE_HOST_DEVICE inline void sgd_element(const SgdHyper& h, float& p, float g, float& buf) {
  if (h.decay_factor != 1.0f) p = p * h.decay_factor;
  float d = g;
  if (h.weight_decay != 0.0f) d = d + h.weight_decay * p;
  if (h.momentum != 0.0f) {
    const float b = h.first_step ? d : h.momentum * buf + (1.0f - h.dampening) * d;
    buf = b;
    d = h.nesterov ? d + h.momentum * b : b;
  }
  p = p - h.lr * d;
}

// torch.optim.Adam / AdamW on one element, in the order of engine/adam_cpu.cpp.
CNNE_HOST_DEVICE inline void adam_element(const AdamHyper& h, float& p, float g, float& m,
                                          float& v) {
  const float param = p * h.decay_factor;
  const float grad = g + h.weight_decay * param;
  m = m * h.beta1 + grad * h.one_minus_beta1;
  v = v * h.beta2 + (h.one_minus_beta2 * grad) * grad;
  const float denom = sqrtf(v) / h.bias_correction2_sqrt + h.eps;
  p = param + (-h.step_size * m) / denom;
}

}  // namespace cnne
