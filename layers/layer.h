#pragma once
// Layer: one node of the network. Shapes include the batch dimension N.
//
// Note [backward contract]: backward() assigns (never adds) every parameter
// gradient and, when dx is given, dx. The Network relies on it: gradients are
// not zeroed between steps, and tests fill gradient buffers with NaN before
// calling backward to prove every element is written (DESIGN principle 6).
#include <cstdint>
#include <memory>
#include <span>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "engine/context.h"
#include "engine/ops.h"
#include "engine/rng.h"
#include "engine/shape.h"
#include "engine/tensor.h"

namespace cnne {

// Largest kernel, stride or padding a config may ask for (keeps int casts safe).
constexpr int64_t kMaxWindowValue = 1 << 16;

// One tensor of a layer: `name` is the suffix of its PyTorch state_dict key
// ("weight" -> "conv1.weight", "running_mean" -> "bn1.running_mean").
// Scratch tensors may have another dtype (16-bit copies under mixed precision).
struct ParamSpec {
  std::string name;
  Shape shape;
  DType dtype = DType::F32;
};

class Layer {
 public:
  explicit Layer(std::string name) : name_(std::move(name)) {}
  virtual ~Layer() = default;
  Layer(const Layer&) = delete;
  Layer& operator=(const Layer&) = delete;

  const std::string& name() const { return name_; }
  // The config's "type" ("conv2d").
  virtual std::string type() const = 0;

  // How many inputs the layer takes (the config's "inputs" names them; most
  // layers take the previous layer's output).
  virtual size_t input_count() const { return 1; }
  // The output shape for input `in`; throws ConfigError naming this layer when
  // the input cannot feed it. Multi-input layers override output_shape_of.
  virtual Shape output_shape(const Shape& in) const;
  virtual Shape output_shape_of(std::span<const Shape> in) const { return output_shape(in[0]); }
  // Learnable tensors, in state_dict order.
  virtual std::vector<ParamSpec> parameter_specs() const { return {}; }
  // Fills host tensors laid out as parameter_specs() with PyTorch's default init.
  virtual void initialize(Rng&, std::span<const Tensor>) const {}
  // Scratch bytes this layer needs from the context for input shape `in`.
  virtual size_t workspace_bytes(Context&, const Shape&) const { return 0; }
  // True when backward must be given a dx even where nothing upstream reads it
  // (the network then passes a throwaway buffer for its input).
  virtual bool always_computes_dx() const { return false; }
  // True when forward() can apply a ReLU to its own output (conv2d, linear):
  // the Network then fuses a ReLU layer that alone reads this output into it
  // (Note [ReLU fusion] in engine/network.cpp) and calls fuse_relu().
  virtual bool can_fuse_relu() const { return false; }
  void fuse_relu(bool on) { activation_ = on ? FusedActivation::kRelu : FusedActivation::kNone; }
  bool relu_fused() const { return activation_ == FusedActivation::kRelu; }
  // True when the output is the input seen with another shape (flatten): the
  // network then gives y the memory of x and dx the memory of dy.
  virtual bool output_aliases_input() const { return false; }

  // Persistent tensors that are not learned (BatchNorm's running statistics):
  // saved in checkpoints, never touched by the optimizer.
  virtual std::vector<ParamSpec> buffer_specs() const { return {}; }
  virtual void initialize_buffers(std::span<const Tensor>) const {}
  // Per-step tensors the backward needs (BatchNorm's batch statistics, a
  // dropout mask), for input `in` at the largest batch.
  virtual std::vector<ParamSpec> scratch_specs(const Shape&) const { return {}; }
  // Integer state saved as I64 scalars (BatchNorm's num_batches_tracked).
  virtual std::vector<std::pair<std::string, int64_t>> counters() const { return {}; }
  virtual void set_counter(const std::string&, int64_t) {}

  // Parameter and gradient views, in parameter_specs() order, set by the Network.
  void bind(std::vector<Tensor> params, std::vector<Tensor> grads);
  // Buffer and scratch views, in buffer_specs() and scratch_specs() order.
  void bind_state(std::vector<Tensor> buffers, std::vector<Tensor> scratch);
  // The dtype of the activations this layer reads and writes (Note [mixed
  // precision] in engine/precision.h); set by the Network before setup.
  void set_compute_dtype(DType t) { compute_dtype_ = t; }
  DType compute_dtype() const { return compute_dtype_; }
  // Whether the layer takes channels-last activations (Note [channels last]
  // in engine/tensor.h), and the Network's choice, set before setup.
  virtual bool supports_channels_last() const { return false; }
  void set_channels_last(bool on) { channels_last_ = on; }
  bool channels_last() const { return channels_last_; }

  // Training mode (batch statistics, dropout) or evaluation mode.
  virtual void set_training(bool training) { training_ = training; }
  bool training() const { return training_; }
  // Where this step's key lives (on the context's device; stochastic layers
  // draw from it mixed with `salt`, Note [graph-safe step arguments]).
  void bind_step_key(const uint64_t* key, uint64_t salt) {
    step_key_ = key;
    salt_ = salt;
  }
  // One more training step happened (BatchNorm's num_batches_tracked): called
  // by the trainer per step, not by forward, so replays of a captured CUDA
  // graph count too.
  virtual void advance_counters(int64_t) {}
  // BatchNorm: the next training forwards update the running statistics with
  // this momentum instead of the layer's own (< 0: the layer's own again).
  // For the cumulative average of torch.optim.swa_utils.update_bn (momentum
  // None), which sets 1 / k for the k-th batch. Other layers ignore it.
  virtual void set_statistics_momentum(double) {}

  virtual void forward(Context& ctx, const Tensor& x, const Tensor& y);
  // See Note [backward contract]. dx is null when nothing upstream needs it.
  virtual void backward(Context& ctx, const Tensor& x, const Tensor& y, const Tensor& dy,
                        const Tensor* dx);
  // The multi-input forms, with one x and one dx per input; by default the
  // single-input ones.
  virtual void forward_of(Context& ctx, std::span<const Tensor> xs, const Tensor& y) {
    forward(ctx, xs[0], y);
  }
  virtual void backward_of(Context& ctx, std::span<const Tensor> xs, const Tensor& y,
                           const Tensor& dy, std::span<const Tensor* const> dxs) {
    backward(ctx, xs[0], y, dy, dxs[0]);
  }

  // The config entry that rebuilds this layer (round-trips through the registry).
  virtual nlohmann::json to_json() const = 0;
  // PyTorch's module repr: "Conv2d(3, 6, kernel_size=(5, 5), stride=(1, 1))".
  virtual std::string repr() const = 0;
  // Floating-point operations of one forward pass on input `in` (a multiply-add counts 2).
  virtual int64_t forward_flops(const Shape& in) const = 0;
  virtual int64_t forward_flops_of(std::span<const Shape> in) const { return forward_flops(in[0]); }

 protected:
  // "layer 'conv1' (conv2d)": the start of every error about this layer.
  std::string where() const { return "layer '" + name_ + "' (" + type() + ")"; }
  // t as the (N, C, H, W) the normalization ops take: (N, C) as (N, C, 1, 1),
  // other shapes as they are (batchnorm1d, groupnorm and layernorm on features).
  static Tensor as_maps(const Tensor& t);

  // For layers whose ops take the weight params_[0] in the compute dtype
  // (conv2d, linear), Note [mixed precision], or in the channels-last layout
  // (conv2d, Note [channels last]): scratch tensors of the weight's shape at
  // scratch index `first`: its working copy (rounded, and/or (K, R, S, C))
  // and, with `with_grad` (conv2d: cuDNN writes dw in x's dtype and layout),
  // the gradient in that form; none when the parameter itself serves (F32,
  // NCHW).
  std::vector<ParamSpec> working_weight_specs(const Shape& weight, bool with_grad) const;
  // The weight to compute with: params_[0] itself, or params_[0] converted
  // into its working copy (when `refresh`, at forward) and that copy.
  Tensor compute_weight(Context& ctx, size_t first, bool refresh) const;
  // Where the weight gradient goes: grads_[0] itself, or the working-form
  // scratch that finish_weight_grad() converts into grads_[0].
  Tensor weight_grad_target(size_t first) const;
  void finish_weight_grad(Context& ctx, size_t first) const;

  std::vector<Tensor> params_;
  std::vector<Tensor> grads_;
  std::vector<Tensor> buffers_;
  std::vector<Tensor> scratch_;
  bool training_ = true;
  FusedActivation activation_ = FusedActivation::kNone;  // what forward() applies last
  DType compute_dtype_ = DType::F32;
  bool channels_last_ = false;
  const uint64_t* step_key_ = nullptr;
  uint64_t salt_ = 0;

 private:
  std::string name_;
};

}  // namespace cnne
