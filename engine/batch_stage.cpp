#include "engine/batch_stage.h"

#include "engine/ops.h"

namespace cnne {

BatchStage::BatchStage(Context& ctx, Network& net)
    : ctx_(ctx),
      net_(net),
      host_labels_(Device::CPU, sizeof(int32_t) * static_cast<size_t>(net.max_batch())) {
  if (ctx.device() != Device::CPU) {
    host_images_ = Buffer(Device::CPU, net.input(net.max_batch()).bytes());
    labels_ = Buffer(ctx.device(), host_labels_.bytes());
  }
}

int64_t BatchStage::load(const BatchLoader& loader, int64_t b, const Normalization& norm) {
  const int64_t n = loader.batch_count(b);
  const Tensor input = net_.input(n);
  const bool on_host = ctx_.device() == Device::CPU;
  float* images = on_host ? input.f32() : static_cast<float*>(host_images_.data());
  loader.fill(b, norm, images, static_cast<int32_t*>(host_labels_.data()));
  if (!on_host) {
    copy_tensor(Tensor(images, input.shape), input);
    copy_tensor(host_labels(n), labels(n));
  }
  return n;
}

Tensor BatchStage::labels(int64_t n) const {
  if (ctx_.device() == Device::CPU) return host_labels(n);
  return Tensor(static_cast<int32_t*>(labels_.data()), Shape{n}, ctx_.device());
}

Tensor BatchStage::host_labels(int64_t n) const {
  return Tensor(static_cast<int32_t*>(host_labels_.data()), Shape{n});
}

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
