#pragma once
// SGD with momentum, dampening, weight decay and Nesterov, PyTorch's
// torch.optim.SGD semantics, as one update over the flat parameter arena.
// The momentum buffer lives in its own buffer with the parameters' layout.
#include "engine/buffer.h"
#include "engine/config.h"
#include "engine/context.h"
#include "engine/network.h"

namespace cnne {

class SgdOptimizer {
 public:
  SgdOptimizer(Context& ctx, const Network& net, const SgdHyper& hyper);

  // One update from the gradients the last backward() assigned.
  void step(Network& net);
  int64_t steps() const { return steps_; }
  const SgdHyper& hyper() const { return hyper_; }
  Tensor momentum() const;  // (P) same layout as Network::flat_parameters()

 private:
  Context& ctx_;
  SgdHyper hyper_;
  Buffer momentum_;  // (P) F32
  int64_t steps_ = 0;
};

}  // namespace cnne
