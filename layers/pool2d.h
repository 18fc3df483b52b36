#pragma once
// Pool2d: what MaxPool2d and AvgPool2d share (the window, the output shape,
// the JSON, the FLOPs); each adds its forward, backward and printout.
// x (N, C, H, W) -> y (N, C, P, Q)
#include "engine/json_fields.h"
#include "engine/ops.h"
#include "layers/layer.h"

namespace cnne {

class Pool2d : public Layer {
 public:
  // Derived constructors call check() (it names the layer's type, which is
  // not known yet while Pool2d itself is being built).
  Pool2d(std::string name, const Pool2dParams& params) : Layer(std::move(name)), params_(params) {}

  Shape output_shape(const Shape& in) const override;
  nlohmann::json to_json() const override;
  // one comparison or addition per window element
  int64_t forward_flops(const Shape& in) const override;
  const Pool2dParams& params() const { return params_; }

 protected:
  void check() const;
  // "kernel_size=2, stride=2, padding=0", PyTorch's way
  std::string window_repr() const;

  Pool2dParams params_;
};

class MaxPool2d : public Pool2d {
 public:
  MaxPool2d(std::string name, const Pool2dParams& params) : Pool2d(std::move(name), params) {
    check();
  }
  static std::unique_ptr<Layer> from_json(const std::string& name, JsonFields& fields);

  std::string type() const override { return "maxpool2d"; }
  void forward(Context& ctx, const Tensor& x, const Tensor& y) override;
  void backward(Context& ctx, const Tensor& x, const Tensor& y, const Tensor& dy,
                const Tensor* dx) override;
  std::string repr() const override;
};

// Padding counts in the divisor unless params.count_include_pad is false
// (nn.AvgPool2d's count_include_pad, true by default).
class AvgPool2d : public Pool2d {
 public:
  AvgPool2d(std::string name, const Pool2dParams& params) : Pool2d(std::move(name), params) {
    check();
  }
  static std::unique_ptr<Layer> from_json(const std::string& name, JsonFields& fields);

  std::string type() const override { return "avgpool2d"; }
  nlohmann::json to_json() const override;
  void forward(Context& ctx, const Tensor& x, const Tensor& y) override;
  void backward(Context& ctx, const Tensor& x, const Tensor& y, const Tensor& dy,
                const Tensor* dx) override;
  std::string repr() const override;
};

}  // namespace cnne
