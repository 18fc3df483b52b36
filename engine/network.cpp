#include "engine/network.h"

#include <fnmatch.h>

#include <algorithm>
#include <map>

#include "cuda/nvtx_range.h"
#include "engine/error.h"
#include "engine/json_fields.h"
#include "engine/ops.h"
#include "layers/registry.h"

namespace cnne {
namespace {

constexpr int64_t kParamAlignFloats = 16;  // 64-byte aligned tensors inside the flat layouts

int64_t align_up(int64_t v, int64_t a) {
  return (v + a - 1) / a * a;
}

// Layer errors say "layer 'conv2' (conv2d): ..."; put the config file in front.
template <class F>
auto with_file(const std::string& where, F&& f) {
  try {
    return f();
  } catch (const ConfigError& e) {
    if (std::string(e.what()).rfind(where, 0) == 0) throw;
    throw ConfigError(where + ": " + e.what());
  }
}

// Appends `specs` to a flat layout named after `layer`; returns the new size.
int64_t lay_out(const std::string& layer, const std::vector<ParamSpec>& specs, int64_t size,
                std::vector<NamedParam>& out) {
  for (const ParamSpec& spec : specs) {
    out.push_back({layer + "." + spec.name, spec.shape, size});
    size = align_up(size + spec.shape.numel(), kParamAlignFloats);
  }
  return size;
}

size_t float_bytes(int64_t n) {
  return sizeof(float) * static_cast<size_t>(n);
}

}  // namespace

Network::Network(Network&&) noexcept = default;
Network& Network::operator=(Network&&) noexcept = default;
Network::~Network() = default;

// Note [parameter init]: the layer's weight_init and bias_init keys, checked
// against the parameters it has.
std::vector<Network::ParamInitOf> Network::read_param_inits(const Layer& layer, JsonFields& f) {
  std::vector<ParamInitOf> out;
  const std::vector<ParamSpec> specs = layer.parameter_specs();
  for (const char* key : {"weight_init", "bias_init"}) {
    if (!f.has(key)) continue;
    const std::string param = std::string(key) == "weight_init" ? "weight" : "bias";
    ParamInit init = parse_param_init(f.get_raw(key), f.where() + ": " + key);
    size_t index = specs.size();
    for (size_t i = 0; i < specs.size(); ++i)
      if (specs[i].name == param) index = i;
    if (index == specs.size()) {
      std::string names;
      for (const ParamSpec& spec : specs) names += (names.empty() ? "" : ", ") + spec.name;
      throw ConfigError(f.error(key, "is given, but the layer has no " + param +
                                         (specs.empty() ? " (it has no parameters)"
                                                        : " (its parameters: " + names + ")")));
    }
    if (init.needs_fans() && specs[index].shape.rank() < 2)
      throw ConfigError(f.error(key, "'" + init.name +
                                         "' needs the fans of a tensor of two or "
                                         "more dimensions, and " +
                                         param + " is " + specs[index].shape.str() +
                                         "; zeros, ones, constant, normal, trunc_normal or uniform "
                                         "take any tensor"));
    out.push_back({index, key, std::move(init)});
  }
  return out;
}

Network Network::from_json(const nlohmann::json& network, const std::string& where) {
  Network net;
  JsonFields f(network, where + ": network");
  net.name_ = f.get_string("name", "Network");
  const auto input = f.get_numbers("input", {});
  if (!f.has("input")) f.get_raw("input");  // reports the missing key
  if (input.size() != 3 || std::any_of(input.begin(), input.end(), [](double d) {
        return d < 1 || d > 65536 || d != static_cast<double>(static_cast<int64_t>(d));
      }))
    throw ConfigError(f.error("input", "must be [channels, height, width] of positive integers"));
  net.input_shape_ = Shape{static_cast<int64_t>(input[0]), static_cast<int64_t>(input[1]),
                           static_cast<int64_t>(input[2])};
  const nlohmann::json& layers = f.get_raw("layers");
  f.finish();
  if (!layers.is_array() || layers.empty())
    throw ConfigError(f.error("layers", "must be a non-empty array of layer objects"));

  const LayerRegistry& registry = LayerRegistry::builtin();
  std::map<std::string, size_t> node_of{{"input", 0}};  // output name -> node
  for (size_t i = 0; i < layers.size(); ++i) {
    const std::string at = where + ": network.layers[" + std::to_string(i) + "]";
    JsonFields lf(layers[i], at);
    const std::string type = lf.get_string("type");
    const std::string name = lf.get_string("name", type + std::to_string(i));
    if (name.empty() || name.find_first_of(" \t\n") != std::string::npos)
      throw ConfigError(lf.error("name", "must be non-empty and contain no spaces"));
    if (auto it = node_of.find(name); it != node_of.end())
      throw ConfigError(at + ": layer name '" + name + "' is already used" +
                        (it->second == 0
                             ? std::string(" (\"input\" names the network's input)")
                             : " by network.layers[" + std::to_string(it->second - 1) + "]"));
    JsonFields named(layers[i], at + " '" + name + "'");
    named.allow("type");
    named.allow("name");
    const std::vector<std::string> input_names = named.get_strings("inputs", {});
    net.layers_.push_back(with_file(where, [&] { return registry.create(type, name, named); }));
    net.param_inits_.push_back(read_param_inits(*net.layers_.back(), named));
    named.finish();
    std::vector<size_t> inputs;
    if (input_names.empty()) {
      inputs.push_back(i);  // the previous layer's output (node i), or the input
    } else {
      for (const std::string& in : input_names) {
        const auto it = node_of.find(in);
        if (it == node_of.end())
          throw ConfigError(named.error("inputs", "names '" + in +
                                                      "', which is not \"input\" or a layer "
                                                      "defined before this one"));
        inputs.push_back(it->second);
      }
    }
    if (inputs.size() > kMaxLayerInputs || inputs.size() != net.layers_.back()->input_count())
      throw ConfigError(named.error(
          "inputs", "lists " + std::to_string(inputs.size()) + " inputs, the layer takes " +
                        std::to_string(net.layers_.back()->input_count())));
    net.inputs_.push_back(inputs);
    node_of[name] = i + 1;
  }
  net.consumers_.assign(layers.size() + 1, 0);
  for (const auto& inputs : net.inputs_)
    for (size_t node : inputs) ++net.consumers_[node];
  net.fusable_.assign(layers.size(), 0);
  for (size_t i = 0; i < layers.size(); ++i) {
    const size_t node = net.inputs_[i][0];
    net.fusable_[i] = net.layers_[i]->type() == "relu" && node > 0 && net.consumers_[node] == 1 &&
                      net.layers_[node - 1]->can_fuse_relu();
  }

  // Shapes are checked layer by layer here, with batch 1, so a config that
  // cannot run fails when it is read, naming the layer.
  const std::vector<Shape> shapes = with_file(where, [&] { return net.infer_shapes(1); });
  if (shapes.back().rank() != 2)
    throw ConfigError(where + ": the last layer '" + net.layers_.back()->name() +
                      "' must output (N, classes) logits, got " + shapes.back().str());

  for (const auto& layer : net.layers_) {
    net.first_param_of_layer_.push_back(net.params_.size());
    net.first_buffer_of_layer_.push_back(net.buffers_.size());
    const auto specs = layer->parameter_specs();
    net.layout_floats_ = lay_out(layer->name(), specs, net.layout_floats_, net.params_);
    for (const ParamSpec& spec : specs) net.param_floats_ += spec.shape.numel();
    net.buffer_floats_ =
        lay_out(layer->name(), layer->buffer_specs(), net.buffer_floats_, net.buffers_);
  }
  net.first_param_of_layer_.push_back(net.params_.size());
  net.first_buffer_of_layer_.push_back(net.buffers_.size());
  return net;
}

nlohmann::json Network::to_json() const {
  nlohmann::json layers = nlohmann::json::array();
  for (size_t i = 0; i < layers_.size(); ++i) {
    nlohmann::json entry = layers_[i]->to_json();
    for (const ParamInitOf& p : param_inits_[i]) entry[p.key] = param_init_json(p.init);
    if (!(inputs_[i].size() == 1 && inputs_[i][0] == i)) {  // not the default chain
      nlohmann::json names = nlohmann::json::array();
      for (size_t node : inputs_[i])
        names.push_back(node == 0 ? std::string("input") : layers_[node - 1]->name());
      entry["inputs"] = names;
    }
    layers.push_back(entry);
  }
  return {{"name", name_},
          {"input", {input_shape_[0], input_shape_[1], input_shape_[2]}},
          {"layers", layers}};
}

void Network::infer_shapes_into(int64_t n, std::vector<Shape>& nodes) const {
  nodes.clear();
  nodes.push_back(input_shape_.with_batch(n));
  Shape in[kMaxLayerInputs];
  for (size_t i = 0; i < layers_.size(); ++i) {
    const size_t count = inputs_[i].size();
    for (size_t j = 0; j < count; ++j) in[j] = nodes[inputs_[i][j]];
    nodes.push_back(layers_[i]->output_shape_of(std::span<const Shape>(in, count)));
  }
}

std::vector<Shape> Network::infer_shapes(int64_t n) const {
  std::vector<Shape> nodes;
  infer_shapes_into(n, nodes);
  return nodes;
}

Shape Network::output_shape(int64_t n) const {
  return infer_shapes(n).back();
}

std::vector<LayerSummary> Network::summarize(int64_t batch) const {
  const std::vector<Shape> shapes = infer_shapes(batch);
  std::vector<LayerSummary> rows;
  for (size_t i = 0; i < layers_.size(); ++i) {
    const Layer& l = *layers_[i];
    std::vector<Shape> in;
    for (size_t node : inputs_[i]) in.push_back(shapes[node]);
    LayerSummary row{l.name(), l.type(), l.repr(), shapes[i + 1], 0, l.forward_flops_of(in)};
    for (const ParamSpec& spec : l.parameter_specs()) row.params += spec.shape.numel();
    rows.push_back(row);
  }
  return rows;
}

std::string Network::repr() const {
  std::string out = name_ + "(\n";
  for (const auto& layer : layers_) out += "  (" + layer->name() + "): " + layer->repr() + "\n";
  return out + ")";
}

// Note [ReLU fusion]: a ReLU layer whose input is read by nothing else and
// comes from a layer that can apply ReLU itself (conv2d, linear, batchnorm2d/1d,
// and add: a residual join) is done by
// that layer: its forward writes act(conv(x) + b) in one pass (on the GPU one
// bias+ReLU kernel where cudnnAddTensor and cudnnActivationForward took two),
// and the ReLU's output shares the producer's memory (one activation fewer).
// Nothing else changes: the ReLU layer's backward still turns its dy into the
// producer's dy using the shared output, and the producer's backward reads
// only x and dy, never its own output. Results are bit-identical to the
// unfused network (tests/fusion_test.cpp); `--no-fusion` turns it off.
void Network::set_relu_fusion(bool on) {
  if (ctx_) throw Error("Network::set_relu_fusion after setup");
  relu_fusion_ = on;
}

std::vector<std::string> Network::fused_relus() const {
  std::vector<std::string> pairs;
  if (!relu_fusion_) return pairs;
  for (size_t i = 0; i < layers_.size(); ++i)
    if (fusable_[i]) pairs.push_back(layers_[inputs_[i][0] - 1]->name() + "+" + layers_[i]->name());
  return pairs;
}

void Network::set_precision(Precision p) {
  if (ctx_) throw Error("Network::set_precision after setup");
  precision_ = p;
  activation_dtype_ = cnne::activation_dtype(p);
  for (auto& layer : layers_) layer->set_compute_dtype(activation_dtype_);
}

std::string Network::channels_last_refusal() const {
  // Every layer that meets a channels-last tensor must take it.
  const std::vector<Shape> shapes = infer_shapes(1);
  for (size_t i = 0; i < layers_.size(); ++i)
    for (size_t node : inputs_[i]) {
      const Shape& in = shapes[node];
      if (in.rank() == 4 && in[2] * in[3] > 1 && !layers_[i]->supports_channels_last())
        return "training.channels_last: layer '" + layers_[i]->name() + "' (" + layers_[i]->type() +
               ") does not take channels-last input " + in.str() +
               "; conv2d, batchnorm2d, groupnorm, instancenorm2d, the activations, prelu, add, "
               "concat, mul, dropout and global_avgpool2d do (a network of them up to its global "
               "average pooling, like ResNet)";
    }
  return "";
}

void Network::set_channels_last(bool on) {
  if (ctx_) throw Error("Network::set_channels_last after setup");
  if (on)
    if (const std::string why = channels_last_refusal(); !why.empty()) throw ConfigError(why);
  channels_last_ = on;
  for (auto& layer : layers_) layer->set_channels_last(on);
}

Tensor Network::node_view(size_t offset, const Shape& shape) const {
  return activations_.view(offset, shape, activation_dtype_).with_channels_last(channels_last_);
}

size_t Network::activation_bytes(int64_t n) const {
  return static_cast<size_t>(n) * dtype_size(activation_dtype_);
}

void Network::setup(Context& ctx, const std::vector<int64_t>& batch_sizes) {
  if (ctx_) throw Error("Network::setup called twice");
  if (batch_sizes.empty()) throw Error("Network::setup needs at least one batch size");
  max_batch_ = *std::max_element(batch_sizes.begin(), batch_sizes.end());
  if (max_batch_ < 1) throw Error("Network::setup: batch size must be >= 1");
  if (const std::string why = ctx.unsupported_reason(activation_dtype_); !why.empty())
    throw DeviceError("precision " + std::string(precision_name(precision_)) + ": " + why);

  weights_ = Buffer(ctx.device(), float_bytes(layout_floats_));
  gradients_ = Buffer(ctx.device(), float_bytes(layout_floats_));
  persistent_ = Buffer(ctx.device(), float_bytes(buffer_floats_));
  ctx_ = &ctx;
  ops::fill(ctx, flat_parameters(), 0.0f);  // alignment gaps stay zero forever
  ops::fill(ctx, flat_gradients(), 0.0f);

  // Node outputs, then a gradient per node (node 0, the input, needs none).
  const std::vector<Shape> shapes = infer_shapes(max_batch_);
  step_shapes_.reserve(shapes.size());
  grad_written_.assign(shapes.size(), 0);
  node_offsets_.assign(shapes.size(), 0);
  grad_offsets_.assign(shapes.size(), 0);
  int64_t largest = 0;
  absorbed_.assign(layers_.size(), 0);
  for (size_t i = 0; i < layers_.size(); ++i) {
    absorbed_[i] = relu_fusion_ && fusable_[i];
    if (absorbed_[i]) layers_[inputs_[i][0] - 1]->fuse_relu(true);
  }
  for (size_t node = 0; node < shapes.size(); ++node) {
    const bool alias =
        node > 0 && (layers_[node - 1]->output_aliases_input() || absorbed_[node - 1]);
    node_offsets_[node] = alias ? node_offsets_[inputs_[node - 1][0]]
                                : activations_.reserve(activation_bytes(shapes[node].numel()));
    largest = std::max(largest, shapes[node].numel());
  }
  for (size_t node = 1; node < shapes.size(); ++node)
    grad_offsets_[node] = activations_.reserve(activation_bytes(shapes[node].numel()));
  // A throwaway gradient for the input, for layers that always compute one.
  for (size_t i = 0; i < layers_.size(); ++i)
    if (inputs_[i][0] == 0 && layers_[i]->always_computes_dx()) {
      grad_offsets_[0] = activations_.reserve(activation_bytes(shapes[0].numel()));
      break;
    }
  // An aliasing layer whose input nobody else reads shares its gradient too.
  for (size_t i = 0; i < layers_.size(); ++i) {
    const size_t in = inputs_[i][0];
    if (layers_[i]->output_aliases_input() && in > 0 && consumers_[in] == 1)
      grad_offsets_[in] = grad_offsets_[i + 1];
  }
  size_t arity = 0;
  for (const auto& inputs : inputs_) arity = std::max(arity, inputs.size());
  for (size_t j = 0; j < arity; ++j)
    accumulate_offsets_.push_back(activations_.reserve(activation_bytes(largest)));
  std::vector<std::vector<size_t>> scratch_offsets(layers_.size());
  std::vector<std::vector<ParamSpec>> scratch_specs(layers_.size());
  for (size_t i = 0; i < layers_.size(); ++i) {
    scratch_specs[i] = layers_[i]->scratch_specs(shapes[inputs_[i][0]]);
    for (const ParamSpec& spec : scratch_specs[i])
      scratch_offsets[i].push_back(
          activations_.reserve(static_cast<size_t>(spec.shape.numel()) * dtype_size(spec.dtype)));
  }
  activations_.allocate(ctx.device());

  size_t workspace = 0;
  for (int64_t n : batch_sizes) {
    const std::vector<Shape> s = infer_shapes(n);
    for (size_t i = 0; i < layers_.size(); ++i)
      workspace = std::max(workspace, layers_[i]->workspace_bytes(ctx, s[inputs_[i][0]]));
  }
  ctx.reserve_workspace(workspace);

  std::vector<float> initial_buffers(static_cast<size_t>(buffer_floats_), 0.0f);
  for (size_t l = 0; l < layers_.size(); ++l) {
    std::vector<Tensor> p, g, b, host_b, s;
    for (size_t i = first_param_of_layer_[l]; i < first_param_of_layer_[l + 1]; ++i) {
      p.push_back(parameter(i));
      g.push_back(gradient(i));
    }
    for (size_t i = first_buffer_of_layer_[l]; i < first_buffer_of_layer_[l + 1]; ++i) {
      b.push_back(buffer(i));
      host_b.emplace_back(initial_buffers.data() + buffers_[i].offset, buffers_[i].shape);
    }
    for (size_t k = 0; k < scratch_specs[l].size(); ++k)
      s.push_back(activations_.view(scratch_offsets[l][k], scratch_specs[l][k].shape,
                                    scratch_specs[l][k].dtype));
    layers_[l]->bind(std::move(p), std::move(g));
    layers_[l]->bind_state(std::move(b), std::move(s));
    layers_[l]->initialize_buffers(host_b);
  }
  upload_buffers(initial_buffers);
}

void Network::reset_buffers() {
  std::vector<float> initial(static_cast<size_t>(buffer_floats_), 0.0f);
  for (size_t l = 0; l < layers_.size(); ++l) {
    std::vector<Tensor> host;
    for (size_t i = first_buffer_of_layer_[l]; i < first_buffer_of_layer_[l + 1]; ++i)
      host.emplace_back(initial.data() + buffers_[i].offset, buffers_[i].shape);
    layers_[l]->initialize_buffers(host);
  }
  upload_buffers(initial);
}

void Network::set_statistics_momentum(double momentum) {
  for (auto& layer : layers_) layer->set_statistics_momentum(momentum);
}

void Network::initialize(Rng& rng) {
  std::vector<float> host(static_cast<size_t>(layout_floats_), 0.0f);
  for (size_t l = 0; l < layers_.size(); ++l) {
    std::vector<Tensor> views;
    for (size_t i = first_param_of_layer_[l]; i < first_param_of_layer_[l + 1]; ++i)
      views.emplace_back(host.data() + params_[i].offset, params_[i].shape);
    layers_[l]->initialize(rng, views);
    for (const ParamInitOf& p : param_inits_[l]) fill_param(rng, p.init, views[p.param]);
  }
  upload_parameters(host);
}

std::vector<float> Network::download_parameters() const {
  std::vector<float> host(static_cast<size_t>(layout_floats_));
  copy_tensor(flat_parameters(), Tensor(host.data(), Shape{layout_floats_}));
  return host;
}

void Network::upload_parameters(const std::vector<float>& host) {
  if (static_cast<int64_t>(host.size()) != layout_floats_)
    throw Error("Network::upload_parameters: " + std::to_string(host.size()) +
                " floats, expected " + std::to_string(layout_floats_));
  copy_tensor(Tensor(const_cast<float*>(host.data()), Shape{layout_floats_}), flat_parameters());
}

std::vector<float> Network::download_buffers() const {
  std::vector<float> host(static_cast<size_t>(buffer_floats_));
  copy_tensor(
      Tensor(static_cast<float*>(persistent_.data()), Shape{buffer_floats_}, persistent_.device()),
      Tensor(host.data(), Shape{buffer_floats_}));
  return host;
}

void Network::upload_buffers(const std::vector<float>& host) {
  if (static_cast<int64_t>(host.size()) != buffer_floats_)
    throw Error("Network::upload_buffers: " + std::to_string(host.size()) + " floats, expected " +
                std::to_string(buffer_floats_));
  copy_tensor(
      Tensor(const_cast<float*>(host.data()), Shape{buffer_floats_}),
      Tensor(static_cast<float*>(persistent_.data()), Shape{buffer_floats_}, persistent_.device()));
}

void Network::set_training(bool training) {
  for (auto& layer : layers_) layer->set_training(training);
}

void Network::bind_step_key(const uint64_t* key) {
  for (size_t i = 0; i < layers_.size(); ++i) layers_[i]->bind_step_key(key, i + 1);
}

uint64_t Network::step_key(uint64_t seed, int64_t step) {
  const uint64_t key = seed ^ 0x5bd1e9955bd1e995ULL;
  return key * 0x9e3779b97f4a7c15ULL + static_cast<uint64_t>(step);
}

void Network::note_training_step() {
  for (auto& layer : layers_) layer->advance_counters(1);
}

std::vector<std::pair<int64_t, int64_t>> Network::trainable_ranges(
    const std::vector<std::string>& frozen) const {
  std::vector<bool> is_frozen(layers_.size(), false);
  for (const std::string& pattern : frozen) {
    bool used = false;
    for (size_t l = 0; l < layers_.size(); ++l)
      if (fnmatch(pattern.c_str(), layers_[l]->name().c_str(), 0) == 0) is_frozen[l] = used = true;
    if (!used)
      throw ConfigError("training.freeze: '" + pattern + "' matches no layer of network '" + name_ +
                        "'");
  }
  std::vector<std::pair<int64_t, int64_t>> ranges;
  for (size_t l = 0; l < layers_.size(); ++l) {
    if (is_frozen[l] || first_param_of_layer_[l] == first_param_of_layer_[l + 1]) continue;
    const int64_t begin = params_[first_param_of_layer_[l]].offset;
    const int64_t end = first_param_of_layer_[l + 1] < params_.size()
                            ? params_[first_param_of_layer_[l + 1]].offset
                            : layout_floats_;
    if (!ranges.empty() && ranges.back().second == begin)
      ranges.back().second = end;
    else
      ranges.emplace_back(begin, end);
  }
  return ranges;
}

Network::MemoryPlan Network::memory_plan() const {
  return {weights_.bytes(), gradients_.bytes(), persistent_.bytes(), activations_.planned_bytes()};
}

Tensor Network::flat_parameters() const {
  return Tensor(static_cast<float*>(weights_.data()), Shape{layout_floats_}, weights_.device());
}

Tensor Network::flat_gradients() const {
  return Tensor(static_cast<float*>(gradients_.data()), Shape{layout_floats_}, gradients_.device());
}

Tensor Network::flat_buffers() const {
  return Tensor(static_cast<float*>(persistent_.data()), Shape{buffer_floats_},
                persistent_.device());
}

Tensor Network::parameter(size_t i) const {
  return Tensor(static_cast<float*>(weights_.data()) + params_[i].offset, params_[i].shape,
                weights_.device());
}

Tensor Network::gradient(size_t i) const {
  return Tensor(static_cast<float*>(gradients_.data()) + params_[i].offset, params_[i].shape,
                gradients_.device());
}

Tensor Network::buffer(size_t i) const {
  return Tensor(static_cast<float*>(persistent_.data()) + buffers_[i].offset, buffers_[i].shape,
                persistent_.device());
}

Tensor Network::input(int64_t n) const {
  if (!ctx_) throw Error("Network::input before setup");
  if (n < 1 || n > max_batch_)
    throw Error("batch of " + std::to_string(n) + " outside the planned 1.." +
                std::to_string(max_batch_));
  return node_view(node_offsets_[0], input_shape_.with_batch(n));
}

Tensor Network::forward(int64_t n) {
  input(n);                                   // checks n
  std::vector<Shape>& shapes = step_shapes_;  // capacity reserved at setup: no allocation here
  infer_shapes_into(n, shapes);
  Tensor xs[kMaxLayerInputs];
  for (size_t i = 0; i < layers_.size(); ++i) {
    if (absorbed_[i]) continue;  // its producer applied it, Note [ReLU fusion]
    NvtxRange range(layers_[i]->name().c_str());
    const size_t count = inputs_[i].size();
    for (size_t j = 0; j < count; ++j)
      xs[j] = node_view(node_offsets_[inputs_[i][j]], shapes[inputs_[i][j]]);
    const Tensor y = node_view(node_offsets_[i + 1], shapes[i + 1]);
    if (observer_) observer_->before(i, false);
    layers_[i]->forward_of(*ctx_, std::span<const Tensor>(xs, count), y);
    if (observer_) observer_->after(i, false);
  }
  return node_view(node_offsets_.back(), shapes.back());
}

Tensor Network::output_of(size_t layer, int64_t n) const {
  const std::vector<Shape> shapes = infer_shapes(n);
  return node_view(node_offsets_[layer + 1], shapes[layer + 1]);
}

Tensor Network::output_grad(int64_t n) const {
  return node_view(grad_offsets_.back(), output_shape(n));
}

void Network::backward(int64_t n) {
  std::vector<Shape>& shapes = step_shapes_;
  infer_shapes_into(n, shapes);
  std::fill(grad_written_.begin(), grad_written_.end(), 0);
  grad_written_.back() = 1;  // the loss wrote output_grad
  Tensor xs[kMaxLayerInputs], dx_views[kMaxLayerInputs];
  const Tensor* dxs[kMaxLayerInputs];
  for (size_t i = layers_.size(); i-- > 0;) {
    Layer& layer = *layers_[i];
    NvtxRange range(layer.name().c_str());
    const size_t out = i + 1, count = inputs_[i].size();
    const Tensor y = node_view(node_offsets_[out], shapes[out]);
    const Tensor dy = node_view(grad_offsets_[out], shapes[out]);
    if (!grad_written_[out]) ops::fill(*ctx_, dy, 0.0f);  // an output nothing reads
    bool accumulate[kMaxLayerInputs] = {};
    for (size_t j = 0; j < count; ++j) {
      const size_t node = inputs_[i][j];
      xs[j] = node_view(node_offsets_[node], shapes[node]);
      if (node == 0) {  // nothing upstream needs d(input)
        dx_views[j] = node_view(grad_offsets_[0], shapes[0]);
        dxs[j] = layer.always_computes_dx() ? &dx_views[j] : nullptr;
        continue;
      }
      // The first gradient to reach a node is written in place; later ones
      // (a node read by several layers) are added to it.
      accumulate[j] = grad_written_[node] != 0;
      dx_views[j] =
          node_view(accumulate[j] ? accumulate_offsets_[j] : grad_offsets_[node], shapes[node]);
      dxs[j] = &dx_views[j];
      grad_written_[node] = 1;
    }
    if (observer_) observer_->before(i, true);
    layer.backward_of(*ctx_, std::span<const Tensor>(xs, count), y, dy,
                      std::span<const Tensor* const>(dxs, count));
    if (observer_) observer_->after(i, true);
    for (size_t j = 0; j < count; ++j)
      if (accumulate[j])
        ops::axpby(*ctx_, 1.0f, dx_views[j], 1.0f,
                   node_view(grad_offsets_[inputs_[i][j]], shapes[inputs_[i][j]]));
  }
}

}  // namespace cnne
