#pragma once
// PReLU: nn.PReLU(num_parameters, init): y = x > 0 ? x : a * x with a
// learned slope a per channel (num_parameters = C, dim 1 of an (N, C, H, W) or
// (N, C) input) or one for all (num_parameters = 1, PyTorch's default),
// starting at `init` (0.25). He et al. 2015. The slope's state_dict name is
// "<name>.weight"; like PyTorch, the optimizer's weight decay applies to it
// unless optimizer.no_weight_decay names it.
#include "engine/json_fields.h"
#include "layers/layer.h"

namespace cnne {

class PReLU : public Layer {
 public:
  PReLU(std::string name, int64_t num_parameters, double init);
  static std::unique_ptr<Layer> from_json(const std::string& name, JsonFields& fields);

  std::string type() const override { return "prelu"; }
  bool supports_channels_last() const override { return true; }
  Shape output_shape(const Shape& in) const override;
  std::vector<ParamSpec> parameter_specs() const override;
  void initialize(Rng& rng, std::span<const Tensor> params) const override;
  void forward(Context& ctx, const Tensor& x, const Tensor& y) override;
  void backward(Context& ctx, const Tensor& x, const Tensor& y, const Tensor& dy,
                const Tensor* dx) override;
  nlohmann::json to_json() const override;
  std::string repr() const override;
  int64_t forward_flops(const Shape& in) const override { return in.numel(); }

 private:
  int64_t num_parameters_;
  double init_;
};

}  // namespace cnne
