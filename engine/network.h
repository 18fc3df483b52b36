#pragma once
// Network: a chain of layers built from the config's "network" object, with
// its memory planned once (DESIGN principle 2):
//   parameters, gradients, momentum: one flat buffer each, the same layout
//   activations: the input and every layer's output for the largest batch
//   activation gradients: two ping-pong buffers of the largest activation
//   workspace: the context's, sized to the largest layer need
// Nothing is allocated after setup(); forward/backward only read shapes.
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "engine/arena.h"
#include "engine/context.h"
#include "engine/rng.h"
#include "layers/layer.h"

namespace cnne {

// One parameter tensor of the network under its PyTorch state_dict name.
struct NamedParam {
  std::string name;  // "conv1.weight"
  Shape shape;
  int64_t offset = 0;  // in floats, into the flat parameter layout
};

// One row of `cnnengine summary`.
struct LayerSummary {
  std::string name, type, repr;
  Shape output;
  int64_t params = 0;
  int64_t flops = 0;
};

// Called around every layer's forward and backward when set on a Network
// (cnnengine bench times layers with it). Null by default: no cost.
class LayerObserver {
 public:
  virtual ~LayerObserver() = default;
  virtual void before(size_t layer, bool backward) = 0;
  virtual void after(size_t layer, bool backward) = 0;
};

class Network {
 public:
  // `network` is the config's "network" object: {"name", "input": [C, H, W], "layers": [...]};
  // `where` names the config file in errors.
  static Network from_json(const nlohmann::json& network, const std::string& where);
  nlohmann::json to_json() const;

  Network(Network&&) noexcept;
  Network& operator=(Network&&) noexcept;
  ~Network();

  const std::string& name() const { return name_; }
  const Shape& input_shape() const { return input_shape_; }  // (C, H, W)
  // Output shape for a batch of n (N, classes).
  Shape output_shape(int64_t n) const;
  const std::vector<NamedParam>& parameters() const { return params_; }
  int64_t parameter_count() const { return param_floats_; }
  size_t layer_count() const { return layers_.size(); }
  const Layer& layer(size_t i) const { return *layers_[i]; }
  std::vector<LayerSummary> summarize(int64_t batch) const;
  // The PyTorch print(net) text: "SimpleCNN(\n  (conv1): Conv2d(...)\n ...)".
  std::string repr() const;

  // Plans and allocates all memory for batches up to max(batch_sizes) on ctx's device.
  void setup(Context& ctx, const std::vector<int64_t>& batch_sizes);
  bool is_setup() const { return ctx_ != nullptr; }
  int64_t max_batch() const { return max_batch_; }

  // PyTorch's default initialization, layer by layer, from rng.
  void initialize(Rng& rng);
  // Host copies of the weights, by name / from host floats laid out as parameters().
  std::vector<float> download_parameters() const;
  void upload_parameters(const std::vector<float>& host);

  // The batch input (n, C, H, W) the caller fills before forward().
  Tensor input(int64_t n) const;
  // Runs every layer on input(n); returns the logits (n, classes).
  Tensor forward(int64_t n);
  // Layer i's output of the last forward(n) (for diagnosis and tests).
  Tensor output_of(size_t layer, int64_t n) const;
  // The loss writes d(loss)/d(logits) here before backward(): (n, classes).
  Tensor output_grad(int64_t n) const;
  // Back-propagates output_grad(n) and assigns every parameter gradient.
  void backward(int64_t n);

  void set_observer(LayerObserver* observer) { observer_ = observer; }
  // Bytes of device memory this network planned: parameters, gradients, activations.
  struct MemoryPlan {
    size_t parameters = 0, gradients = 0, activations = 0;
  };
  MemoryPlan memory_plan() const;

  // Flat views over the whole parameter layout (P): for the optimizer.
  Tensor flat_parameters() const;
  Tensor flat_gradients() const;
  Tensor parameter(size_t i) const;
  Tensor gradient(size_t i) const;

 private:
  Network() = default;
  // Output shapes of every layer for a batch of n: shapes[0] is the input.
  std::vector<Shape> infer_shapes(int64_t n) const;

  std::string name_;
  Shape input_shape_;
  std::vector<std::unique_ptr<Layer>> layers_;
  std::vector<NamedParam> params_;
  std::vector<size_t> first_param_of_layer_;  // index into params_
  int64_t param_floats_ = 0;                  // sum of parameter elements
  int64_t layout_floats_ = 0;                 // with alignment gaps

  Context* ctx_ = nullptr;
  int64_t max_batch_ = 0;
  Buffer weights_;    // (layout_floats_)
  Buffer gradients_;  // (layout_floats_)
  Arena activations_;
  std::vector<size_t> activation_offsets_;  // per activation index 0..L; aliases repeat
  size_t grad_offset_[2] = {0, 0};          // ping-pong buffers, each of the largest activation
  std::vector<Shape> step_shapes_;          // backward's per-step shapes, reserved at setup
  LayerObserver* observer_ = nullptr;
};

}  // namespace cnne
