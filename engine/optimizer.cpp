#include "engine/optimizer.h"

#include <fnmatch.h>

#include <algorithm>
#include <cstring>
#include <set>

#include "engine/error.h"
#include "engine/ops.h"

namespace cnne {

std::unique_ptr<Optimizer> Optimizer::create(Context& ctx, const Network& net,
                                             const OptimizerConfig& config) {
  if (config.is_adam()) return std::make_unique<AdamOptimizer>(ctx, net, config);
  if (config.type == "rmsprop") return std::make_unique<RmspropOptimizer>(ctx, net, config);
  if (config.type == "adagrad") return std::make_unique<AdagradOptimizer>(ctx, net, config);
  return std::make_unique<SgdOptimizer>(ctx, net, config);
}

Optimizer::Optimizer(Context& ctx, const Network& net, const OptimizerConfig& config,
                     std::vector<std::string> state_names)
    : ctx_(ctx),
      config_(config),
      layout_floats_(net.flat_parameters().numel()),
      state_names_(std::move(state_names)) {
  if (state_names_.size() > kMaxStateBuffers)  // apply() slices them into a fixed array
    throw Error("optimizer " + config_.type + ": " + std::to_string(state_names_.size()) +
                " state buffers, at most " + std::to_string(kMaxStateBuffers));
  for (size_t i = 0; i < state_names_.size(); ++i) {
    state_.emplace_back(ctx.device(), net.flat_parameters().bytes());
    ops::fill(ctx_, state(i), 0.0f);
  }
  decay_segments_ = decay_segments(net, config_.no_weight_decay, layout_floats_);
  set_ranges({});
}

// Parameter i owns the layout from its offset to the next one's (its
// alignment gap included); segments of equal decay merge.
std::vector<Optimizer::Segment> Optimizer::decay_segments(const Network& net,
                                                          const std::vector<std::string>& patterns,
                                                          int64_t layout_floats) {
  if (patterns.empty()) return {};
  const auto& params = net.parameters();
  std::vector<bool> skipped(params.size(), false);
  for (const std::string& pattern : patterns) {
    bool used = false;
    for (size_t i = 0; i < params.size(); ++i)
      if (fnmatch(pattern.c_str(), params[i].name.c_str(), 0) == 0) skipped[i] = used = true;
    if (!used)
      throw ConfigError("training.optimizer.no_weight_decay: '" + pattern +
                        "' matches no parameter of network '" + net.name() + "' (names like '" +
                        (params.empty() ? std::string("conv1.weight") : params.back().name) + "')");
  }
  std::vector<Segment> segments;
  for (size_t i = 0; i < params.size(); ++i) {
    const int64_t begin = i == 0 ? 0 : params[i].offset;
    const int64_t end = i + 1 < params.size() ? params[i + 1].offset : layout_floats;
    if (!segments.empty() && segments.back().decayed == !skipped[i])
      segments.back().end = end;
    else
      segments.push_back({begin, end, !skipped[i]});
  }
  return segments;
}

void Optimizer::set_ranges(std::vector<std::pair<int64_t, int64_t>> ranges) {
  ranges_ = std::move(ranges);
  segments_.clear();
  if (ranges_.empty() && decay_segments_.empty()) return;  // one launch over everything
  const std::vector<std::pair<int64_t, int64_t>> updated =
      ranges_.empty() ? std::vector<std::pair<int64_t, int64_t>>{{0, layout_floats_}} : ranges_;
  const std::vector<Segment> decay =
      decay_segments_.empty() ? std::vector<Segment>{{0, layout_floats_, true}} : decay_segments_;
  for (const auto& [begin, end] : updated)  // both sorted: their intersections, in order
    for (const Segment& d : decay) {
      const int64_t lo = std::max(begin, d.begin), hi = std::min(end, d.end);
      if (lo < hi) segments_.push_back({lo, hi, d.decayed});
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
  if (count > 0) require_same_state(file, path, net);
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

// The state kinds a file holds are the suffixes of its tensors' names after
// a parameter's name ("conv1.weight.max_exp_avg_sq"); they must be this
// run's: settings that add or drop a buffer (amsgrad, RMSprop's momentum or
// centered) cannot change on resume.
void Optimizer::require_same_state(const Safetensors& file, const std::string& path,
                                   const Network& net) const {
  std::set<std::string> held;
  for (const SafetensorsTensor& t : file.tensors)
    for (const NamedParam& p : net.parameters())
      if (t.name.size() > p.name.size() + 1 &&
          t.name.compare(0, p.name.size() + 1, p.name + ".") == 0)
        held.insert(t.name.substr(p.name.size() + 1));
  const std::set<std::string> kept(state_names_.begin(), state_names_.end());
  std::string extra, missing;
  for (const std::string& n : held)
    if (!kept.count(n) && n.find('.') == std::string::npos)
      extra += (extra.empty() ? "'" : ", '") + n + "'";
  for (const std::string& n : kept)
    if (!held.count(n)) missing += (missing.empty() ? "'" : ", '") + n + "'";
  if (extra.empty() && missing.empty()) return;
  std::string why = path + ": the saved " + config_.display_name() + " state ";
  if (!extra.empty()) why += "holds " + extra + ", which this run's optimizer does not keep";
  if (!extra.empty() && !missing.empty()) why += ", and ";
  if (!missing.empty()) why += "lacks " + missing + ", which this run's optimizer keeps";
  throw CheckpointError(why +
                        "; resume with the optimizer settings it was saved with (amsgrad, "
                        "momentum, centered)");
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
  Tensor state_slices[kMaxStateBuffers];
  if (segments_.empty()) {  // the whole layout in one kernel
    for (size_t i = 0; i < state_.size(); ++i) state_slices[i] = state(i);
    update(params, grads, std::span<const Tensor>(state_slices, state_.size()), args, true);
    return;
  }
  for (const Segment& s : segments_) {
    for (size_t i = 0; i < state_.size(); ++i) state_slices[i] = state(i).slice(s.begin, s.end);
    update(params.slice(s.begin, s.end), grads.slice(s.begin, s.end),
           std::span<const Tensor>(state_slices, state_.size()), args, s.decayed);
  }
}

SgdOptimizer::SgdOptimizer(Context& ctx, const Network& net, const OptimizerConfig& config)
    : Optimizer(ctx, net, config, {"momentum_buffer"}) {}

void SgdOptimizer::write_scalars(StepScalars& scalars, const StepRates& rates,
                                 int64_t steps_before) const {
  for (const bool decayed : {true, false}) {
    SgdHyper& h = decayed ? scalars.sgd : scalars.sgd_no_decay;
    h = (decayed ? config_ : config_.without_weight_decay()).sgd(rates.lr, rates.momentum);
    h.first_step = steps_before == 0 ? 1 : 0;
    h.step = steps_before + 1;
  }
}

void SgdOptimizer::update(const Tensor& params, const Tensor& grads, std::span<const Tensor> state,
                          const StepArgs& args, bool decayed) {
  ops::sgd_update(ctx_, args.sgd(decayed), scaling_, params, grads, state[0]);
}

AdamOptimizer::AdamOptimizer(Context& ctx, const Network& net, const OptimizerConfig& config)
    : Optimizer(ctx, net, config,
                config.amsgrad ? std::vector<std::string>{"exp_avg", "exp_avg_sq", "max_exp_avg_sq"}
                               : std::vector<std::string>{"exp_avg", "exp_avg_sq"}) {}

void AdamOptimizer::write_scalars(StepScalars& scalars, const StepRates& rates,
                                  int64_t steps_before) const {
  scalars.adam = config_.adam(rates.lr, rates.momentum, steps_before + 1);
  scalars.adam_no_decay =
      config_.without_weight_decay().adam(rates.lr, rates.momentum, steps_before + 1);
}

void AdamOptimizer::update(const Tensor& params, const Tensor& grads, std::span<const Tensor> state,
                           const StepArgs& args, bool decayed) {
  ops::adam_update(ctx_, args.adam(decayed), scaling_, params, grads, state[0], state[1],
                   state.size() > 2 ? &state[2] : nullptr);
}

std::vector<std::string> RmspropOptimizer::state_names(const OptimizerConfig& config) {
  std::vector<std::string> names{"square_avg"};
  if (config.momentum > 0) names.push_back("momentum_buffer");
  if (config.centered) names.push_back("grad_avg");
  return names;
}

RmspropOptimizer::RmspropOptimizer(Context& ctx, const Network& net, const OptimizerConfig& config)
    : Optimizer(ctx, net, config, state_names(config)) {}

void RmspropOptimizer::write_scalars(StepScalars& scalars, const StepRates& rates, int64_t) const {
  scalars.rmsprop = config_.rmsprop(rates.lr, rates.momentum);
  scalars.rmsprop_no_decay = config_.without_weight_decay().rmsprop(rates.lr, rates.momentum);
}

void RmspropOptimizer::update(const Tensor& params, const Tensor& grads,
                              std::span<const Tensor> state, const StepArgs& args, bool decayed) {
  // The optional buffers where state_names() put them; null when not kept.
  const auto buffer = [&](const char* name) -> const Tensor* {
    for (size_t i = 0; i < state_names_.size(); ++i)
      if (state_names_[i] == name) return &state[i];
    return nullptr;
  };
  ops::rmsprop_update(ctx_, args.rmsprop(decayed), scaling_, params, grads, state[0],
                      buffer("momentum_buffer"), buffer("grad_avg"));
}

AdagradOptimizer::AdagradOptimizer(Context& ctx, const Network& net, const OptimizerConfig& config)
    : Optimizer(ctx, net, config, {"sum"}) {
  ops::fill(ctx_, state(0), static_cast<float>(config.initial_accumulator_value));
}

void AdagradOptimizer::write_scalars(StepScalars& scalars, const StepRates& rates,
                                     int64_t steps_before) const {
  scalars.adagrad = config_.adagrad(rates.lr, steps_before + 1);
  scalars.adagrad_no_decay = config_.without_weight_decay().adagrad(rates.lr, steps_before + 1);
}

void AdagradOptimizer::update(const Tensor& params, const Tensor& grads,
                              std::span<const Tensor> state, const StepArgs& args, bool decayed) {
  ops::adagrad_update(ctx_, args.adagrad(decayed), scaling_, params, grads, state[0]);
}

}  // namespace cnne
