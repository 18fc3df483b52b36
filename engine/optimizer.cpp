#include "engine/optimizer.h"

#include "engine/ops.h"

namespace cnne {

SgdOptimizer::SgdOptimizer(Context& ctx, const Network& net, const SgdHyper& hyper)
    : ctx_(ctx), hyper_(hyper), momentum_(ctx.device(), net.flat_parameters().bytes()) {
  ops::fill(ctx_, momentum(), 0.0f);
}

Tensor SgdOptimizer::momentum() const {
  return Tensor(static_cast<float*>(momentum_.data()),
                Shape{static_cast<int64_t>(momentum_.bytes() / sizeof(float))}, ctx_.device());
}

void SgdOptimizer::step(Network& net) {
  ops::sgd_update(ctx_, hyper_, steps_ == 0, net.flat_parameters(), net.flat_gradients(),
                  momentum());
  ++steps_;
}

}  // namespace cnne
