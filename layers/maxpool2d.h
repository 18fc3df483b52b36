#pragma once
// MaxPool2d: PyTorch's nn.MaxPool2d (dilation 1, floor mode).
// x (N, C, H, W) -> y (N, C, P, Q)
#include "engine/json_fields.h"
#include "engine/ops.h"
#include "layers/layer.h"

namespace cnne {

class MaxPool2d : public Layer {
 public:
  MaxPool2d(std::string name, const Pool2dParams& params);
  static std::unique_ptr<Layer> from_json(const std::string& name, JsonFields& fields);

  std::string type() const override { return "maxpool2d"; }
  Shape output_shape(const Shape& in) const override;
  void forward(Context& ctx, const Tensor& x, const Tensor& y) override;
  void backward(Context& ctx, const Tensor& x, const Tensor& y, const Tensor& dy,
                const Tensor* dx) override;
  nlohmann::json to_json() const override;
  std::string repr() const override;
  int64_t forward_flops(const Shape& in) const override;

 private:
  Pool2dParams params_;
};

}  // namespace cnne
