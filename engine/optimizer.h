#pragma once
// SGD with momentum, dampening, weight decay and Nesterov, PyTorch's
// torch.optim.SGD semantics, as one update over the flat parameter arena.
// The momentum buffer lives in its own buffer with the parameters' layout.
#include "engine/buffer.h"
#include "engine/config.h"
#include "engine/context.h"
#include "engine/network.h"
#include "engine/safetensors.h"

namespace cnne {

class SgdOptimizer {
 public:
  SgdOptimizer(Context& ctx, const Network& net, const SgdHyper& hyper);

  // One update from the gradients the last backward() assigned.
  void step(Network& net);
  int64_t steps() const { return steps_; }
  const SgdHyper& hyper() const { return hyper_; }
  Tensor momentum() const;  // (P) same layout as Network::flat_parameters()

  // The optimizer's state as host tensors under PyTorch's names
  // ("<param>.momentum_buffer"), the step count in the metadata.
  Safetensors export_state(const Network& net) const;
  // Restores export_state's output; CheckpointError naming `path` on any mismatch.
  void import_state(const Safetensors& file, const std::string& path, const Network& net);

 private:
  Context& ctx_;
  SgdHyper hyper_;
  Buffer momentum_;  // (P) F32
  int64_t steps_ = 0;
};

}  // namespace cnne
