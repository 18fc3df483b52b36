#include "engine/loss_meter.h"

#include "engine/ops.h"

namespace cnne {

LossMeter::LossMeter(Context& ctx) : ctx_(ctx), sums_(ctx.device(), 8) {
  reset();
}

void LossMeter::reset() {
  // Both words to zero: 0.0f and int 0 share the all-zero bit pattern.
  ops::fill(ctx_, Tensor(static_cast<float*>(sums_.data()), Shape{2}, ctx_.device()), 0.0f);
}

void LossMeter::set(double loss_sum, int64_t correct) {
  float loss = static_cast<float>(loss_sum);
  auto hits = static_cast<int32_t>(correct);
  copy_tensor(Tensor(&loss, Shape{1}), this->loss_sum());
  copy_tensor(Tensor(&hits, Shape{1}), this->correct());
}

Tensor LossMeter::loss_sum() const {
  return Tensor(static_cast<float*>(sums_.data()), Shape{1}, ctx_.device());
}

Tensor LossMeter::correct() const {
  return Tensor(static_cast<int32_t*>(sums_.data()) + 1, Shape{1}, ctx_.device());
}

LossMeter::Reading LossMeter::read() const {
  float loss = 0;
  int32_t hits = 0;
  copy_tensor(loss_sum(), Tensor(&loss, Shape{1}));
  copy_tensor(correct(), Tensor(&hits, Shape{1}));
  return {loss, hits};
}

}  // namespace cnne
