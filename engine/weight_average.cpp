#include "engine/weight_average.h"

#include <cmath>
#include <cstdio>
#include <cstring>
#include <map>

#include "engine/error.h"
#include "engine/ops.h"

namespace cnne {
namespace {

constexpr const char* kPrefix = "training_weights.";

Tensor view_of(const Buffer& b, Device device) {
  return Tensor(static_cast<float*>(b.data()),
                Shape{static_cast<int64_t>(b.bytes() / sizeof(float))}, device);
}

// a and b (equal sizes) swap contents through `scratch` (at least as large).
void swap_contents(const Tensor& a, const Tensor& b, const Tensor& scratch) {
  const Tensor s = scratch.slice(0, a.numel());
  copy_tensor(a, s);
  copy_tensor(b, a);
  copy_tensor(s, b);
}

// Adds each named tensor of `layout` (host floats laid out as `names` say) under kPrefix.
void add_named(Safetensors& file, const std::vector<NamedParam>& names,
               const std::vector<float>& layout) {
  for (const NamedParam& p : names)
    file.add(kPrefix + p.name, Tensor(const_cast<float*>(layout.data()) + p.offset, p.shape));
}

// Fills `layout` from the kPrefix tensors of `found` named as `names` say.
void read_named(const std::map<std::string, const SafetensorsTensor*>& found,
                const std::vector<NamedParam>& names, std::vector<float>& layout,
                const std::string& path) {
  for (const NamedParam& p : names) {
    const auto it = found.find(p.name);
    const SafetensorsTensor* t = it == found.end() ? nullptr : it->second;
    if (!t || t->dtype != DType::F32 || !(t->shape == p.shape))
      throw CheckpointError(path + ": missing or mis-shaped '" + kPrefix + p.name +
                            "' (expected F32 " + p.shape.str() +
                            "), the training weights of an averaged run");
    std::memcpy(layout.data() + p.offset, t->bytes.data(), t->bytes.size());
  }
}

}  // namespace

WeightAverage::WeightAverage(Context& ctx, const Network& net, double decay, bool buffers)
    : ctx_(ctx), decay_(decay), buffers_(buffers), has_buffers_(!net.buffers().empty()) {
  if (!(decay > 0 && decay < 1))
    throw Error("WeightAverage: decay " + std::to_string(decay) + " outside (0, 1)");
  const Tensor p = net.flat_parameters(), b = net.flat_buffers();
  params_ = Buffer(ctx.device(), p.bytes());
  if (buffers_) stats_ = Buffer(ctx.device(), b.bytes());
  scratch_ = Buffer(ctx.device(), std::max(p.bytes(), buffers_ ? b.bytes() : size_t{0}));
}

std::unique_ptr<WeightAverage> WeightAverage::equal(Context& ctx, const Network& net) {
  auto average = std::make_unique<WeightAverage>(ctx, net, 0.5, !net.buffers().empty());
  average->equal_ = true;
  return average;
}

Tensor WeightAverage::params() const {
  return view_of(params_, ctx_.device());
}
Tensor WeightAverage::stats() const {
  return view_of(stats_, ctx_.device());
}
Tensor WeightAverage::scratch() const {
  return view_of(scratch_, ctx_.device());
}

void WeightAverage::apply(const Network& net) {
  if (holds_average_)
    throw Error("WeightAverage::apply while the network holds the average (an update of it)");
  if (updates_ == 0) {  // AveragedModel's first update_parameters: a copy
    copy_tensor(net.flat_parameters(), params());
    if (buffers_) copy_tensor(net.flat_buffers(), stats());
    return;
  }
  // The equal average's update n + 1 weighs the new weights 1 / (n + 1).
  const double decay = equal_ ? 1.0 - 1.0 / static_cast<double>(updates_ + 1) : decay_;
  const auto d = static_cast<float>(decay);
  const auto w = static_cast<float>(1.0 - decay);  // as PyTorch rounds the Python scalar
  const Tensor weights = net.flat_parameters(), average = params();
  if (ranges_.empty()) {
    ops::axpby(ctx_, w, weights, d, average);
  } else {
    for (const auto& [begin, end] : ranges_)
      ops::axpby(ctx_, w, weights.slice(begin, end), d, average.slice(begin, end));
  }
  // The equal average's statistics are recomputed for it, never averaged.
  if (buffers_ && !equal_ && stats().numel() > 0)
    ops::axpby(ctx_, w, net.flat_buffers(), d, stats());
}

void WeightAverage::exchange(const Network& net) {
  ctx_.synchronize();  // the step's kernels are done with the weights
  swap_contents(net.flat_parameters(), params(), scratch());
  if (buffers_) swap_contents(net.flat_buffers(), stats(), scratch());
  holds_average_ = !holds_average_;
}

void WeightAverage::export_training_weights(const Network& net, Safetensors& file) const {
  ctx_.synchronize();
  std::vector<float> host(static_cast<size_t>(params().numel()));
  copy_tensor(holds_average_ ? params() : net.flat_parameters(),
              Tensor(host.data(), params().shape));
  add_named(file, net.parameters(), host);
  if (buffers_) {
    std::vector<float> stats_host(static_cast<size_t>(stats().numel()));
    copy_tensor(holds_average_ ? stats() : net.flat_buffers(),
                Tensor(stats_host.data(), stats().shape));
    add_named(file, net.buffers(), stats_host);
  }
  if (equal_) {
    file.metadata["weight_average"] = "swa";
  } else {
    char decay[32];
    std::snprintf(decay, sizeof decay, "%.17g", decay_);
    file.metadata["ema_decay"] = decay;
    file.metadata["weight_average"] = "ema";
  }
  file.metadata["ema_updates"] = std::to_string(updates_);
  file.metadata["ema_buffers"] = buffers_ ? "true" : "false";
}

void WeightAverage::adopt(const Network& net, int64_t updates) {
  if (holds_average_) throw Error("WeightAverage::adopt while the network holds the average");
  copy_tensor(net.flat_parameters(), params());
  if (buffers_) copy_tensor(net.flat_buffers(), stats());
  updates_ = updates;
}

std::string WeightAverage::describe() const {
  if (equal_) return "";  // SwaConfig::describe says it
  char text[320];
  std::snprintf(text, sizeof text,
                "Weight averaging: an exponential moving average of the weights after every "
                "step, decay %.10g%s; evaluations and checkpoints use the average",
                decay_,
                !has_buffers_ ? ""
                : buffers_    ? " (BatchNorm running statistics averaged too)"
                              : " (with the network's own BatchNorm running statistics)");
  return text;
}

void with_average(WeightAverage* average, const Network& net, FunctionRef<void()> fn) {
  // Before its first update the average is the weights themselves (an
  // AveragedModel is a copy of the model until update_parameters).
  if (!average || average->network_holds_average() || average->updates() == 0) {
    fn();
    return;
  }
  average->exchange(net);
  try {
    fn();
  } catch (...) {
    average->exchange(net);
    throw;
  }
  average->exchange(net);
}

Safetensors restore_training_weights(const Safetensors& file, const std::string& path, Network& net,
                                     WeightAverage* average) {
  Safetensors rest;
  rest.metadata = file.metadata;
  std::map<std::string, const SafetensorsTensor*> found;  // by name without the prefix
  const size_t prefix = std::strlen(kPrefix);
  for (const SafetensorsTensor& t : file.tensors) {
    if (t.name.compare(0, prefix, kPrefix) == 0)
      found.emplace(t.name.substr(prefix), &t);
    else
      rest.tensors.push_back(t);
  }
  if (found.empty()) return rest;  // not averaged: a new average (if any) starts at the next step

  const auto meta = [&](const char* key) {
    const auto it = file.metadata.find(key);
    if (it == file.metadata.end())
      throw CheckpointError(path + ": holds training weights but no " + key + " metadata");
    return it->second;
  };
  const std::string count = meta("ema_updates");
  int64_t updates = 0;
  try {
    updates = std::stoll(count);
  } catch (const std::exception&) {
    throw CheckpointError(path + ": metadata ema_updates '" + count + "' is not a number");
  }
  if (updates < 0) throw CheckpointError(path + ": negative ema_updates");
  const bool stored_buffers = meta("ema_buffers") == "true";
  const size_t expected =
      net.parameters().size() + (stored_buffers ? net.buffers().size() : size_t{0});
  if (found.size() != expected)
    throw CheckpointError(path + ": holds " + std::to_string(found.size()) +
                          " training-weight tensors, expected " + std::to_string(expected));
  std::vector<float> weights = net.download_parameters();
  read_named(found, net.parameters(), weights, path);
  std::vector<float> stats;
  if (stored_buffers) {
    stats = net.download_buffers();
    read_named(found, net.buffers(), stats, path);
  }
  // Only now, with every tensor checked: the checkpoint's tensors are the average.
  if (average) average->adopt(net, updates);
  net.upload_parameters(weights);
  if (stored_buffers) net.upload_buffers(stats);
  return rest;
}

}  // namespace cnne
