#pragma once
// GradientClipper: training.clip_grad_norm, PyTorch's
//   torch.nn.utils.clip_grad_norm_(model.parameters(), max_norm)
// between backward and the optimizer step (after fp16 unscaling, as PyTorch's
// AMP recipe calls scaler.unscale_ first): the 2-norm of all the gradients
// together, and every gradient times min(1, max_norm / (norm + 1e-6)). Three
// launches that read and write only device memory, so a captured CUDA graph
// clips every step; the norm stays on the device until last_norm() reads it.
#include <cstdint>
#include <utility>
#include <vector>

#include "engine/buffer.h"
#include "engine/context.h"
#include "engine/tensor.h"

namespace cnne {

class GradientClipper {
 public:
  // max_norm > 0 and finite.
  GradientClipper(Context& ctx, double max_norm);

  // grads (P) F32: the ranges [begin, end) of it (every element if none) taken
  // as one vector, as clip_grad_norm_ takes the parameters it is given.
  void clip(const Tensor& grads, const std::vector<std::pair<int64_t, int64_t>>& ranges = {});
  // The norm before clipping at the last clip(); synchronizes. -1 before any.
  double last_norm() const;
  double max_norm() const { return max_norm_; }

 private:
  Tensor partials() const;   // (kNormPartials) F32, zero between steps
  Tensor norm_coef() const;  // (2) F32: the last norm, its clip coefficient

  Context& ctx_;
  float max_norm_;
  Buffer state_;  // (kNormPartials + 2) F32 on the context's device: partials, norm, coefficient
};

}  // namespace cnne
