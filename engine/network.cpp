#include "engine/network.h"

#include <algorithm>
#include <map>

#include "cuda/nvtx_range.h"
#include "engine/error.h"
#include "engine/json_fields.h"
#include "engine/ops.h"
#include "layers/registry.h"

namespace cnne {
namespace {

constexpr int64_t kParamAlignFloats = 16;  // 64-byte aligned tensors inside the flat layout

int64_t align_up(int64_t v, int64_t a) {
  return (v + a - 1) / a * a;
}

}  // namespace

Network::Network(Network&&) noexcept = default;
Network& Network::operator=(Network&&) noexcept = default;
Network::~Network() = default;

namespace {

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

}  // namespace

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
  std::map<std::string, size_t> seen;
  for (size_t i = 0; i < layers.size(); ++i) {
    const std::string at = where + ": network.layers[" + std::to_string(i) + "]";
    JsonFields lf(layers[i], at);
    const std::string type = lf.get_string("type");
    const std::string name = lf.get_string("name", type + std::to_string(i));
    if (name.empty() || name.find('.') != std::string::npos)
      throw ConfigError(lf.error("name", "must be non-empty and contain no '.'"));
    if (auto [it, fresh] = seen.emplace(name, i); !fresh)
      throw ConfigError(at + ": layer name '" + name + "' is already used by network.layers[" +
                        std::to_string(it->second) + "]");
    JsonFields named(layers[i], at + " '" + name + "'");
    named.allow("type");
    named.allow("name");
    net.layers_.push_back(with_file(where, [&] { return registry.create(type, name, named); }));
    named.finish();
  }

  // Shapes are checked layer by layer here, with batch 1, so a config that
  // cannot run fails when it is read, naming the layer.
  const std::vector<Shape> shapes = with_file(where, [&] { return net.infer_shapes(1); });
  if (shapes.back().rank() != 2)
    throw ConfigError(where + ": the last layer '" + net.layers_.back()->name() +
                      "' must output (N, classes) logits, got " + shapes.back().str());

  for (const auto& layer : net.layers_) {
    net.first_param_of_layer_.push_back(net.params_.size());
    for (const ParamSpec& spec : layer->parameter_specs()) {
      net.params_.push_back({layer->name() + "." + spec.name, spec.shape, net.layout_floats_});
      net.param_floats_ += spec.shape.numel();
      net.layout_floats_ = align_up(net.layout_floats_ + spec.shape.numel(), kParamAlignFloats);
    }
  }
  net.first_param_of_layer_.push_back(net.params_.size());
  return net;
}

nlohmann::json Network::to_json() const {
  nlohmann::json layers = nlohmann::json::array();
  for (const auto& layer : layers_) layers.push_back(layer->to_json());
  return {{"name", name_},
          {"input", {input_shape_[0], input_shape_[1], input_shape_[2]}},
          {"layers", layers}};
}

std::vector<Shape> Network::infer_shapes(int64_t n) const {
  std::vector<Shape> shapes{input_shape_.with_batch(n)};
  for (const auto& layer : layers_) shapes.push_back(layer->output_shape(shapes.back()));
  return shapes;
}

Shape Network::output_shape(int64_t n) const {
  return infer_shapes(n).back();
}

std::vector<LayerSummary> Network::summarize(int64_t batch) const {
  const std::vector<Shape> shapes = infer_shapes(batch);
  std::vector<LayerSummary> rows;
  for (size_t i = 0; i < layers_.size(); ++i) {
    const Layer& l = *layers_[i];
    LayerSummary row{l.name(), l.type(), l.repr(), shapes[i + 1], 0, l.forward_flops(shapes[i])};
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

void Network::setup(Context& ctx, const std::vector<int64_t>& batch_sizes) {
  if (ctx_) throw Error("Network::setup called twice");
  if (batch_sizes.empty()) throw Error("Network::setup needs at least one batch size");
  max_batch_ = *std::max_element(batch_sizes.begin(), batch_sizes.end());
  if (max_batch_ < 1) throw Error("Network::setup: batch size must be >= 1");

  weights_ = Buffer(ctx.device(), sizeof(float) * static_cast<size_t>(layout_floats_));
  gradients_ = Buffer(ctx.device(), sizeof(float) * static_cast<size_t>(layout_floats_));
  ctx_ = &ctx;
  ops::fill(ctx, flat_parameters(), 0.0f);  // alignment gaps stay zero forever
  ops::fill(ctx, flat_gradients(), 0.0f);

  const std::vector<Shape> shapes = infer_shapes(max_batch_);
  step_shapes_.reserve(shapes.size());
  int64_t largest = 0;
  for (size_t i = 0; i < shapes.size(); ++i) {
    const bool alias = i > 0 && layers_[i - 1]->output_aliases_input();
    activation_offsets_.push_back(
        alias ? activation_offsets_.back()
              : activations_.reserve(sizeof(float) * static_cast<size_t>(shapes[i].numel())));
    largest = std::max(largest, shapes[i].numel());
  }
  for (size_t& offset : grad_offset_)
    offset = activations_.reserve(sizeof(float) * static_cast<size_t>(largest));
  activations_.allocate(ctx.device());

  size_t workspace = 0;
  for (int64_t n : batch_sizes) {
    const std::vector<Shape> s = infer_shapes(n);
    for (size_t i = 0; i < layers_.size(); ++i)
      workspace = std::max(workspace, layers_[i]->workspace_bytes(ctx, s[i]));
  }
  ctx.reserve_workspace(workspace);

  for (size_t l = 0; l < layers_.size(); ++l) {
    std::vector<Tensor> p, g;
    for (size_t i = first_param_of_layer_[l]; i < first_param_of_layer_[l + 1]; ++i) {
      p.push_back(parameter(i));
      g.push_back(gradient(i));
    }
    layers_[l]->bind(std::move(p), std::move(g));
  }
}

void Network::initialize(Rng& rng) {
  std::vector<float> host(static_cast<size_t>(layout_floats_), 0.0f);
  for (size_t l = 0; l < layers_.size(); ++l) {
    std::vector<Tensor> views;
    for (size_t i = first_param_of_layer_[l]; i < first_param_of_layer_[l + 1]; ++i)
      views.emplace_back(host.data() + params_[i].offset, params_[i].shape);
    layers_[l]->initialize(rng, views);
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

Tensor Network::flat_parameters() const {
  return Tensor(static_cast<float*>(weights_.data()), Shape{layout_floats_}, weights_.device());
}

Tensor Network::flat_gradients() const {
  return Tensor(static_cast<float*>(gradients_.data()), Shape{layout_floats_}, gradients_.device());
}

Tensor Network::parameter(size_t i) const {
  return Tensor(static_cast<float*>(weights_.data()) + params_[i].offset, params_[i].shape,
                weights_.device());
}

Tensor Network::gradient(size_t i) const {
  return Tensor(static_cast<float*>(gradients_.data()) + params_[i].offset, params_[i].shape,
                gradients_.device());
}

Tensor Network::input(int64_t n) const {
  if (!ctx_) throw Error("Network::input before setup");
  if (n < 1 || n > max_batch_)
    throw Error("batch of " + std::to_string(n) + " outside the planned 1.." +
                std::to_string(max_batch_));
  return activations_.view(activation_offsets_[0], input_shape_.with_batch(n));
}

Tensor Network::forward(int64_t n) {
  Tensor x = input(n);
  for (size_t i = 0; i < layers_.size(); ++i) {
    NvtxRange range(layers_[i]->name().c_str());
    Tensor y = activations_.view(activation_offsets_[i + 1], layers_[i]->output_shape(x.shape));
    if (observer_) observer_->before(i, false);
    layers_[i]->forward(*ctx_, x, y);
    if (observer_) observer_->after(i, false);
    x = y;
  }
  return x;
}

Network::MemoryPlan Network::memory_plan() const {
  return {weights_.bytes(), gradients_.bytes(), activations_.planned_bytes()};
}

Tensor Network::output_of(size_t layer, int64_t n) const {
  const std::vector<Shape> shapes = infer_shapes(n);
  return activations_.view(activation_offsets_[layer + 1], shapes[layer + 1]);
}

Tensor Network::output_grad(int64_t n) const {
  return activations_.view(grad_offset_[0], output_shape(n));
}

void Network::backward(int64_t n) {
  // Walk the activations backwards: x_i is layer i's input, x_{i+1} its output.
  std::vector<Shape>& shapes = step_shapes_;  // capacity reserved at setup: no allocation here
  shapes.clear();
  shapes.push_back(input(n).shape);
  for (const auto& layer : layers_) shapes.push_back(layer->output_shape(shapes.back()));

  int current = 0;  // the ping-pong buffer holding dy
  for (size_t i = layers_.size(); i-- > 0;) {
    Layer& layer = *layers_[i];
    NvtxRange range(layer.name().c_str());
    const Tensor x = activations_.view(activation_offsets_[i], shapes[i]);
    const Tensor y = activations_.view(activation_offsets_[i + 1], shapes[i + 1]);
    const Tensor dy = activations_.view(grad_offset_[current], shapes[i + 1]);
    const int next = layer.output_aliases_input() ? current : 1 - current;
    const Tensor dx = activations_.view(grad_offset_[next], shapes[i]);
    if (observer_) observer_->before(i, true);
    layer.backward(*ctx_, x, y, dy, i == 0 ? nullptr : &dx);  // nothing upstream needs d(input)
    if (observer_) observer_->after(i, true);
    current = next;
  }
}

}  // namespace cnne
