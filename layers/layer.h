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
#include "engine/rng.h"
#include "engine/shape.h"
#include "engine/tensor.h"

namespace cnne {

// Largest kernel, stride or padding a config may ask for (keeps int casts safe).
constexpr int64_t kMaxWindowValue = 1 << 16;

// One learnable tensor of a layer: `name` is the suffix of its PyTorch
// state_dict key ("weight" -> "conv1.weight").
struct ParamSpec {
  std::string name;
  Shape shape;
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

  // The output shape for input `in`; throws ConfigError naming this layer when
  // the input cannot feed it.
  virtual Shape output_shape(const Shape& in) const = 0;
  // Learnable tensors, in state_dict order.
  virtual std::vector<ParamSpec> parameter_specs() const { return {}; }
  // Fills host tensors laid out as parameter_specs() with PyTorch's default init.
  virtual void initialize(Rng&, std::span<const Tensor>) const {}
  // Scratch bytes this layer needs from the context for input shape `in`.
  virtual size_t workspace_bytes(Context&, const Shape&) const { return 0; }
  // True when the output is the input seen with another shape (flatten): the
  // network then gives y the memory of x and dx the memory of dy.
  virtual bool output_aliases_input() const { return false; }

  // Parameter and gradient views, in parameter_specs() order, set by the Network.
  void bind(std::vector<Tensor> params, std::vector<Tensor> grads);

  virtual void forward(Context& ctx, const Tensor& x, const Tensor& y) = 0;
  // See Note [backward contract]. dx is null for the first layer.
  virtual void backward(Context& ctx, const Tensor& x, const Tensor& y, const Tensor& dy,
                        const Tensor* dx) = 0;

  // The config entry that rebuilds this layer (round-trips through the registry).
  virtual nlohmann::json to_json() const = 0;
  // PyTorch's module repr: "Conv2d(3, 6, kernel_size=(5, 5), stride=(1, 1))".
  virtual std::string repr() const = 0;
  // Floating-point operations of one forward pass on input `in` (a multiply-add counts 2).
  virtual int64_t forward_flops(const Shape& in) const = 0;

 protected:
  // "layer 'conv1' (conv2d)": the start of every error about this layer.
  std::string where() const { return "layer '" + name_ + "' (" + type() + ")"; }

  std::vector<Tensor> params_;
  std::vector<Tensor> grads_;

 private:
  std::string name_;
};

}  // namespace cnne
