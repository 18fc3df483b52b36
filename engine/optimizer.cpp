#include "engine/optimizer.h"

#include <cstring>

#include "engine/error.h"
#include "engine/ops.h"

namespace cnne {

std::unique_ptr<Optimizer> Optimizer::create(Context& ctx, const Network& net,
                                             const OptimizerConfig& config) {
  if (config.is_adam()) return std::make_unique<AdamOptimizer>(ctx, net, config);
  return std::make_unique<SgdOptimizer>(ctx, net, config);
}

Optimizer::Optimizer(Context& ctx, const Network& net, const OptimizerConfig& config,
                     std::vector<std::string> state_names)
    : ctx_(ctx), config_(config), state_names_(std::move(state_names)) {
  for (size_t i = 0; i < state_names_.size(); ++i) {
    state_.emplace_back(ctx.device(), net.flat_parameters().bytes());
    ops::fill(ctx_, state(i), 0.0f);
  }
}

Tensor Optimizer::state(size_t i) const {
  return Tensor(static_cast<float*>(state_[i].data()),
                Shape{static_cast<int64_t>(state_[i].bytes() / sizeof(float))}, ctx_.device());
}

size_t Optimizer::state_bytes() const {
  size_t bytes = 0;
  for (const Buffer& b : state_) bytes += b.bytes();
  return bytes;
}

Safetensors Optimizer::export_state(const Network& net) const {
  Safetensors file;
  file.metadata["optimizer"] = config_.type;
  file.metadata["steps"] = std::to_string(steps_);
  if (steps_ == 0) return file;
  for (size_t i = 0; i < state_.size(); ++i) {
    std::vector<float> host(static_cast<size_t>(state(i).numel()));
    copy_tensor(state(i), Tensor(host.data(), state(i).shape));
    for (const NamedParam& p : net.parameters())
      file.add(p.name + "." + state_names_[i], Tensor(host.data() + p.offset, p.shape));
  }
  return file;
}

void Optimizer::import_state(const Safetensors& file, const std::string& path, const Network& net) {
  const auto type = file.metadata.find("optimizer");
  const auto steps = file.metadata.find("steps");
  if (type == file.metadata.end() || steps == file.metadata.end())
    throw CheckpointError(path + ": not an optimizer state (no optimizer/steps metadata)");
  if (type->second != config_.type)
    throw CheckpointError(path + ": holds " + type->second + " state, the run uses " +
                          config_.type + "; an optimizer change cannot resume");
  int64_t count = 0;
  try {
    count = std::stoll(steps->second);
  } catch (const std::exception&) {
    throw CheckpointError(path + ": metadata steps '" + steps->second + "' is not a number");
  }
  if (count < 0) throw CheckpointError(path + ": negative step count");
  const size_t expected = count == 0 ? 0 : state_.size() * net.parameters().size();
  if (file.tensors.size() != expected)
    throw CheckpointError(path + ": holds " + std::to_string(file.tensors.size()) +
                          " state tensors, expected " + std::to_string(expected));
  for (size_t i = 0; i < state_.size() && count > 0; ++i) {
    std::vector<float> host(static_cast<size_t>(state(i).numel()), 0.0f);
    for (const NamedParam& p : net.parameters()) {
      const std::string name = p.name + "." + state_names_[i];
      const SafetensorsTensor* t = file.find(name);
      if (!t || t->dtype != DType::F32 || !(t->shape == p.shape))
        throw CheckpointError(path + ": missing or mis-shaped '" + name + "' (expected F32 " +
                              p.shape.str() + ")");
      std::memcpy(host.data() + p.offset, t->bytes.data(), t->bytes.size());
    }
    copy_tensor(Tensor(host.data(), state(i).shape), state(i));
  }
  steps_ = count;
}

void Optimizer::write_step(StepScalars& scalars, const StepRates& rates, int64_t ahead) const {
  write_scalars(scalars, rates, steps_ + ahead);
}

void Optimizer::step(Network& net, const StepRates& rates, StepArgs& args) {
  write_step(args.next(), rates);
  args.upload();
  apply(net, args);
  count_step();
}

void Optimizer::apply(Network& net, const StepArgs& args) {
  const Tensor params = net.flat_parameters(), grads = net.flat_gradients();
  Tensor state_slices[2];
  if (ranges_.empty()) {  // the whole layout in one kernel
    for (size_t i = 0; i < state_.size(); ++i) state_slices[i] = state(i);
    update(params, grads, std::span<const Tensor>(state_slices, state_.size()), args);
    return;
  }
  for (const auto& [begin, end] : ranges_) {
    for (size_t i = 0; i < state_.size(); ++i) state_slices[i] = state(i).slice(begin, end);
    update(params.slice(begin, end), grads.slice(begin, end),
           std::span<const Tensor>(state_slices, state_.size()), args);
  }
}

SgdOptimizer::SgdOptimizer(Context& ctx, const Network& net, const OptimizerConfig& config)
    : Optimizer(ctx, net, config, {"momentum_buffer"}) {}

void SgdOptimizer::write_scalars(StepScalars& scalars, const StepRates& rates,
                                 int64_t steps_before) const {
  scalars.sgd = config_.sgd(rates.lr, rates.momentum);
  scalars.sgd.first_step = steps_before == 0 ? 1 : 0;
  scalars.sgd.step = steps_before + 1;
}

void SgdOptimizer::update(const Tensor& params, const Tensor& grads, std::span<const Tensor> state,
                          const StepArgs& args) {
  ops::sgd_update(ctx_, args.sgd(), scaling_, params, grads, state[0]);
}

AdamOptimizer::AdamOptimizer(Context& ctx, const Network& net, const OptimizerConfig& config)
    : Optimizer(ctx, net, config, {"exp_avg", "exp_avg_sq"}) {}

void AdamOptimizer::write_scalars(StepScalars& scalars, const StepRates& rates,
                                  int64_t steps_before) const {
  scalars.adam = config_.adam(rates.lr, rates.momentum, steps_before + 1);
}

void AdamOptimizer::update(const Tensor& params, const Tensor& grads, std::span<const Tensor> state,
                           const StepArgs& args) {
  ops::adam_update(ctx_, args.adam(), scaling_, params, grads, state[0], state[1]);
}

}  // namespace cnne
