#pragma once
// LossScaler: loss scaling for fp16 training (Note [mixed precision] in
// engine/precision.h), static or dynamic (PyTorch's GradScaler: back off by
// half on a non-finite gradient and skip that step; double after
// growth_interval good steps). The scale lives on the context's device and
// only kernels change it, so a captured CUDA graph scales, skips and adapts
// by itself; the host reads it at log lines and checkpoints.
#include <cstdint>
#include <utility>
#include <vector>

#include "engine/buffer.h"
#include "engine/context.h"
#include "engine/ops.h"

namespace cnne {

class LossScaler {
 public:
  // Off (nothing changes in the step) when the scale is 1 and not dynamic.
  LossScaler(Context& ctx, double initial_scale, bool dynamic, int64_t growth_interval);

  bool active() const { return active_; }
  bool dynamic() const { return dynamic_; }
  // For softmax_cross_entropy: the scale on the device; null when off.
  const float* scale() const;
  // After the backward: grads /= scale; dynamic: their NaN/Inf count becomes
  // this step's skip flag. With `ranges` ([begin, end) element ranges: the
  // trainable ones, as the optimizer updates), only those (frozen layers'
  // gradients are neither used nor checked, as in PyTorch).
  void unscale(const Tensor& grads, const std::vector<std::pair<int64_t, int64_t>>& ranges = {});
  // For the optimizer (Note [skipped steps] in engine/optimizer.h): the
  // device state when dynamic, else null.
  const LossScaleState* skipping() const;
  // After the optimizer (dynamic): back off or grow, and clear the flag.
  void update();

  // The device state, read back (synchronizes) and written (resume).
  LossScaleState read() const;
  void restore(const LossScaleState& state);

 private:
  LossScaleState* state() const { return static_cast<LossScaleState*>(state_.data()); }

  Context& ctx_;
  bool dynamic_, active_;
  int32_t growth_interval_;
  Buffer state_;  // (1) LossScaleState on ctx_'s device
};

}  // namespace cnne
