#pragma once
// StepArgs: the per-step arguments of a training step in one block, written
// on the host and uploaded before the step (Note [graph-safe step arguments]
// in engine/ops.h). The ops get pointers into the device copy, which never
// moves, so a captured CUDA graph reads each step's values. Uploads go
// through a ring of pinned slots, each reused only after its last copy has
// finished, so the host can run ahead of the device.
#include <cstddef>
#include <cstdint>
#include <memory>

#include "engine/buffer.h"
#include "engine/context.h"
#include "engine/ops.h"

namespace cnne {

struct StepScalars {
  BatchArgs batch;        // assemble_batch
  uint64_t step_key = 0;  // dropout
  SgdHyper sgd;
  AdamHyper adam;
  RmspropHyper rmsprop;
  AdagradHyper adagrad;
  // The same step for the parameters weight decay skips (no_weight_decay)
  SgdHyper sgd_no_decay;
  AdamHyper adam_no_decay;
  RmspropHyper rmsprop_no_decay;
  AdagradHyper adagrad_no_decay;
};

class StepArgs {
 public:
  explicit StepArgs(Context& ctx);
  ~StepArgs();
  StepArgs(const StepArgs&) = delete;
  StepArgs& operator=(const StepArgs&) = delete;

  // The values of the next upload; write them, then call upload().
  StepScalars& next() { return next_; }
  // Copies next() to the device copy, in stream order (no wait on the CPU path).
  void upload();

  // Pointers into the device copy, for the ops.
  const BatchArgs* batch() const { return &device()->batch; }
  const float* mix_lambda() const { return &device()->batch.mix_lambda; }
  const uint64_t* step_key() const { return &device()->step_key; }
  const SgdHyper* sgd(bool decayed = true) const {
    return decayed ? &device()->sgd : &device()->sgd_no_decay;
  }
  const AdamHyper* adam(bool decayed = true) const {
    return decayed ? &device()->adam : &device()->adam_no_decay;
  }
  const RmspropHyper* rmsprop(bool decayed = true) const {
    return decayed ? &device()->rmsprop : &device()->rmsprop_no_decay;
  }
  const AdagradHyper* adagrad(bool decayed = true) const {
    return decayed ? &device()->adagrad : &device()->adagrad_no_decay;
  }

 private:
  const StepScalars* device() const { return static_cast<const StepScalars*>(device_.data()); }

  Context& ctx_;
  StepScalars next_;
  Buffer device_;  // one StepScalars on the context's device (the CPU: host memory)
  struct Ring;     // pinned slots and their events, GPU only
  std::unique_ptr<Ring> ring_;
};

}  // namespace cnne
