#pragma once
// Network: layers from the config's "network" object, wired as a graph: each
// layer reads the outputs named by its "inputs" (default: the layer before
// it; "input" is the network's input), so residual blocks are expressible.
// Layers are listed in an order where every input comes first. Memory is
// planned once (DESIGN principle 2):
//   parameters, gradients: one flat buffer each, the same layout
//   buffers (running statistics): one flat buffer
//   activations: the input and every layer's output for the largest batch,
//     a gradient buffer per output, two accumulation buffers, layer scratch
//   workspace: the context's, sized to the largest layer need
// Nothing is allocated after setup(); forward/backward only compute shapes.
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "engine/arena.h"
#include "engine/context.h"
#include "engine/param_init.h"
#include "engine/precision.h"
#include "engine/rng.h"
#include "layers/layer.h"

namespace cnne {

class JsonFields;

// One tensor of the network under its PyTorch state_dict name.
struct NamedParam {
  std::string name;  // "conv1.weight"
  Shape shape;
  int64_t offset = 0;  // in floats, into its flat layout
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

// The most inputs one layer may take.
constexpr size_t kMaxLayerInputs = 4;

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
  const std::vector<NamedParam>& buffers() const { return buffers_; }
  int64_t parameter_count() const { return param_floats_; }
  size_t layer_count() const { return layers_.size(); }
  const Layer& layer(size_t i) const { return *layers_[i]; }
  Layer& layer(size_t i) { return *layers_[i]; }
  // The nodes layer i reads: 0 is the network's input, j + 1 layer j's output.
  const std::vector<size_t>& layer_inputs(size_t i) const { return inputs_[i]; }
  // Index into parameters() of layer i's first tensor (its count: the next layer's minus this).
  size_t first_parameter_of(size_t i) const { return first_param_of_layer_[i]; }
  std::vector<LayerSummary> summarize(int64_t batch) const;
  // The PyTorch print(net) text: "SimpleCNN(\n  (conv1): Conv2d(...)\n ...)".
  std::string repr() const;

  // ReLU fusion (Note [ReLU fusion] in network.cpp), on unless turned off
  // before setup(). fused_relus() names the pairs, "conv1+relu1", in order.
  void set_relu_fusion(bool on);
  bool relu_fusion() const { return relu_fusion_; }
  std::vector<std::string> fused_relus() const;
  // True when layer i is a ReLU whose forward its producer does (after setup).
  bool forward_fused(size_t i) const { return !absorbed_.empty() && absorbed_[i]; }

  // Mixed precision (Note [mixed precision] in engine/precision.h): FP32 by
  // default; set before setup(). Activations and their gradients (input(),
  // forward()'s logits, output_grad()) then have activation_dtype().
  void set_precision(Precision p);
  Precision precision() const { return precision_; }
  DType activation_dtype() const { return activation_dtype_; }

  // Channels-last activations (Note [channels last] in engine/tensor.h): NHWC
  // memory for every rank-4 activation and gradient, and (K, R, S, C) conv
  // weight copies; the parameters themselves stay (K, C, R, S), so
  // checkpoints do not change. Set before setup(); throws ConfigError naming
  // a layer that cannot take it. Off by default.
  void set_channels_last(bool on);
  // "" when every layer can take channels-last input, else the ConfigError text.
  std::string channels_last_refusal() const;
  bool channels_last() const { return channels_last_; }

  // Plans and allocates all memory for batches up to max(batch_sizes) on ctx's device.
  void setup(Context& ctx, const std::vector<int64_t>& batch_sizes);
  bool is_setup() const { return ctx_ != nullptr; }
  int64_t max_batch() const { return max_batch_; }

  // PyTorch's default initialization, layer by layer, from rng.
  void initialize(Rng& rng);
  // Host copies of the parameters / buffers, laid out as parameters() / buffers().
  std::vector<float> download_parameters() const;
  void upload_parameters(const std::vector<float>& host);
  std::vector<float> download_buffers() const;
  void upload_buffers(const std::vector<float>& host);

  // Training mode (default) or evaluation mode, for every layer.
  void set_training(bool training);
  // Where stochastic layers find this step's key (dropout masks); each layer
  // mixes in its own salt. The key of step `step` of a run seeded `seed`:
  void bind_step_key(const uint64_t* key);
  static uint64_t step_key(uint64_t seed, int64_t step);
  // Advances the layers' per-step counters after a training step.
  void note_training_step();
  // PyTorch's reset_running_stats for every BatchNorm: running mean 0,
  // running variance 1 (the buffers as setup() made them; counters untouched).
  void reset_buffers();
  // Layer::set_statistics_momentum for every layer (< 0: their own again).
  void set_statistics_momentum(double momentum);

  // The batch input (n, C, H, W) the caller fills before forward().
  Tensor input(int64_t n) const;
  // Runs every layer on input(n); returns the logits (n, classes).
  Tensor forward(int64_t n);
  // Layer i's output of the last forward(n) (for diagnosis and tests); a
  // layer with a fused ReLU shares its ReLU's output, so it reads post-ReLU.
  Tensor output_of(size_t layer, int64_t n) const;
  // The loss writes d(loss)/d(logits) here before backward(): (n, classes).
  Tensor output_grad(int64_t n) const;
  // Back-propagates output_grad(n) and assigns every parameter gradient.
  void backward(int64_t n);

  void set_observer(LayerObserver* observer) { observer_ = observer; }
  // Bytes of device memory this network planned.
  struct MemoryPlan {
    size_t parameters = 0, gradients = 0, buffers = 0, activations = 0;
  };
  MemoryPlan memory_plan() const;

  // The [begin, end) float ranges of the parameter layout that belong to
  // layers whose names match none of `frozen` (shell wildcards), merged where
  // adjacent. Throws ConfigError naming a pattern that matches no layer.
  std::vector<std::pair<int64_t, int64_t>> trainable_ranges(
      const std::vector<std::string>& frozen) const;

  // Flat views over the whole parameter layout (P): for the optimizer.
  Tensor flat_parameters() const;
  Tensor flat_gradients() const;
  // The running statistics' layout (buffers(), with alignment gaps) as one view.
  Tensor flat_buffers() const;
  Tensor parameter(size_t i) const;
  Tensor gradient(size_t i) const;
  Tensor buffer(size_t i) const;

 private:
  Network() = default;
  // Shapes of every node for a batch of n: node 0 is the input, node i + 1
  // layer i's output.
  std::vector<Shape> infer_shapes(int64_t n) const;
  void infer_shapes_into(int64_t n, std::vector<Shape>& nodes) const;
  // Bytes of n activation elements.
  size_t activation_bytes(int64_t n) const;
  // The activation or gradient tensor at `offset` of the arena, in the network's layout.
  Tensor node_view(size_t offset, const Shape& shape) const;

  std::string name_;
  Shape input_shape_;
  std::vector<std::unique_ptr<Layer>> layers_;
  std::vector<std::vector<size_t>> inputs_;  // per layer: node indices it reads
  std::vector<size_t> consumers_;            // per node: how many layer inputs read it
  std::vector<char> fusable_;                // per layer: a ReLU its producer can do
  std::vector<char> absorbed_;               // per layer, after setup: fusable_ and fusion on
  bool relu_fusion_ = true;
  Precision precision_ = Precision::FP32;
  DType activation_dtype_ = DType::F32;
  bool channels_last_ = false;
  std::vector<NamedParam> params_, buffers_;
  std::vector<size_t> first_param_of_layer_, first_buffer_of_layer_;
  // Note [parameter init]: per layer, (parameter index in the layer, its
  // weight_init / bias_init), applied after the layer's default init.
  struct ParamInitOf {
    size_t param;
    std::string key;  // "weight_init" or "bias_init"
    ParamInit init;
  };
  std::vector<std::vector<ParamInitOf>> param_inits_;
  static std::vector<ParamInitOf> read_param_inits(const Layer& layer, JsonFields& fields);
  int64_t param_floats_ = 0;   // sum of parameter elements
  int64_t layout_floats_ = 0;  // parameters with alignment gaps
  int64_t buffer_floats_ = 0;  // buffers with alignment gaps

  Context* ctx_ = nullptr;
  int64_t max_batch_ = 0;
  Buffer weights_;     // (layout_floats_)
  Buffer gradients_;   // (layout_floats_)
  Buffer persistent_;  // (buffer_floats_)
  Arena activations_;
  std::vector<size_t> node_offsets_;        // per node: its output; aliases repeat
  std::vector<size_t> grad_offsets_;        // per node (0 unused): its gradient; aliases repeat
  std::vector<size_t> accumulate_offsets_;  // per input slot: for nodes read more than once
  std::vector<Shape> step_shapes_;          // per-step node shapes, reserved at setup
  std::vector<char> grad_written_;          // per-step, reserved at setup
  LayerObserver* observer_ = nullptr;
};

}  // namespace cnne
