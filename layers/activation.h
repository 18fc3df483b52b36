#pragma once
// The pointwise activations besides ReLU, any shape, PyTorch's modules:
//   tanh        nn.Tanh()
//   sigmoid     nn.Sigmoid()
//   leaky_relu  nn.LeakyReLU(negative_slope=0.01)   key "negative_slope"
//   elu         nn.ELU(alpha=1.0)                   key "alpha"
//   silu        nn.SiLU()
//   gelu        nn.GELU(approximate='none')         key "approximate": "none" or "tanh"
// The arithmetic is layers/activation_math.h. Unlike ReLU they are never
// fused into the layer before them (Note [ReLU fusion] in engine/network.cpp).
#include "engine/json_fields.h"
#include "layers/layer.h"

namespace cnne {

// The config type of an activation: "tanh", "sigmoid", ..., "gelu" (both forms).
const char* activation_type(Activation kind);

class ActivationLayer : public Layer {
 public:
  // `param`: negative_slope (leaky_relu), alpha (elu); ignored by the others.
  ActivationLayer(std::string name, Activation kind, double param = 0.0);
  // The registry's factory of config type activation_type(kind) (for "gelu",
  // kGelu: its "approximate" key picks kGelu or kGeluTanh).
  static std::unique_ptr<Layer> from_json(Activation kind, const std::string& name,
                                          JsonFields& fields);

  Activation kind() const { return kind_; }
  double param() const { return param_; }
  std::string type() const override;
  bool supports_channels_last() const override { return true; }
  Shape output_shape(const Shape& in) const override { return in; }
  void forward(Context& ctx, const Tensor& x, const Tensor& y) override;
  void backward(Context& ctx, const Tensor& x, const Tensor& y, const Tensor& dy,
                const Tensor* dx) override;
  nlohmann::json to_json() const override;
  std::string repr() const override;
  int64_t forward_flops(const Shape& in) const override { return in.numel(); }

 private:
  Activation kind_;
  double param_;
};

}  // namespace cnne
