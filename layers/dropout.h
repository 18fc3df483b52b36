#pragma once
// Dropout: PyTorch's nn.Dropout(p). In training mode each element is zeroed
// with probability p and the rest scaled by 1 / (1 - p); the mask comes from
// the network's step key (Network::set_step_key), so it is the same on both
// backends and in a resumed run. In evaluation mode: the identity.
// Dropout2d (per_channel, config type "dropout2d"): nn.Dropout2d(p) on
// (N, C, H, W), whole channels of each image zeroed with probability p.
#include "engine/json_fields.h"
#include "layers/layer.h"

namespace cnne {

class Dropout : public Layer {
 public:
  Dropout(std::string name, double p, bool per_channel = false);
  static std::unique_ptr<Layer> from_json(const std::string& name, JsonFields& fields);
  static std::unique_ptr<Layer> from_json_2d(const std::string& name, JsonFields& fields);

  std::string type() const override { return per_channel_ ? "dropout2d" : "dropout"; }
  bool supports_channels_last() const override { return true; }
  Shape output_shape(const Shape& in) const override;
  std::vector<ParamSpec> scratch_specs(const Shape& in) const override;
  void forward(Context& ctx, const Tensor& x, const Tensor& y) override;
  void backward(Context& ctx, const Tensor& x, const Tensor& y, const Tensor& dy,
                const Tensor* dx) override;
  nlohmann::json to_json() const override;
  std::string repr() const override;
  int64_t forward_flops(const Shape& in) const override { return in.numel(); }

 private:
  // The mask scratch seen as `shape` (a batch no larger than planned).
  Tensor mask_for(const Shape& shape) const;

  double p_;
  bool per_channel_;  // Dropout2d
};

}  // namespace cnne
