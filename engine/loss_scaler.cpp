#include "engine/loss_scaler.h"

#include <cstddef>

#include "engine/error.h"

namespace cnne {
namespace {

// A LossScaleState seen as bytes, for the edge copies.
Tensor bytes_of(void* p, Device device) {
  return Tensor(static_cast<uint8_t*>(p), Shape{static_cast<int64_t>(sizeof(LossScaleState))},
                device);
}

}  // namespace

LossScaler::LossScaler(Context& ctx, double initial_scale, bool dynamic, int64_t growth_interval)
    : ctx_(ctx),
      dynamic_(dynamic),
      active_(dynamic || initial_scale != 1.0),
      growth_interval_(static_cast<int32_t>(growth_interval)),
      state_(ctx.device(), sizeof(LossScaleState)) {
  if (!(initial_scale > 0)) throw Error("LossScaler: the scale must be > 0");
  if (growth_interval < 1 || growth_interval > INT32_MAX)
    throw Error("LossScaler: the growth interval must be in 1..2^31-1");
  LossScaleState initial;
  initial.scale = static_cast<float>(initial_scale);
  restore(initial);
}

const float* LossScaler::scale() const {
  return active_ ? &state()->scale : nullptr;
}

void LossScaler::unscale(const Tensor& grads,
                         const std::vector<std::pair<int64_t, int64_t>>& ranges) {
  if (!active_) return;
  const Tensor found(&state()->found_inf, Shape{1}, ctx_.device());
  const Tensor* count = dynamic_ ? &found : nullptr;
  if (ranges.empty()) {
    ops::unscale_gradients(ctx_, &state()->scale, grads, count);
    return;
  }
  for (const auto& [begin, end] : ranges)
    ops::unscale_gradients(ctx_, &state()->scale, grads.slice(begin, end), count);
}

const LossScaleState* LossScaler::skipping() const {
  return dynamic_ ? state() : nullptr;
}

void LossScaler::update() {
  if (dynamic_) ops::update_loss_scale(ctx_, state(), growth_interval_);
}

LossScaleState LossScaler::read() const {
  ctx_.synchronize();
  LossScaleState host;
  copy_tensor(bytes_of(state_.data(), ctx_.device()), bytes_of(&host, Device::CPU));
  return host;
}

void LossScaler::restore(const LossScaleState& state) {
  LossScaleState host = state;
  copy_tensor(bytes_of(&host, Device::CPU), bytes_of(state_.data(), ctx_.device()));
}

}  // namespace cnne
