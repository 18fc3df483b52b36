#pragma once
// Linear: PyTorch's nn.Linear. x (N, I) -> y (N, O); weight (O, I); bias (O)
#include "engine/json_fields.h"
#include "layers/layer.h"

namespace cnne {

class Linear : public Layer {
 public:
  Linear(std::string name, int64_t in_features, int64_t out_features, bool bias);
  static std::unique_ptr<Layer> from_json(const std::string& name, JsonFields& fields);

  std::string type() const override { return "linear"; }
  Shape output_shape(const Shape& in) const override;
  std::vector<ParamSpec> parameter_specs() const override;
  bool can_fuse_relu() const override { return true; }
  void initialize(Rng& rng, std::span<const Tensor> params) const override;
  std::vector<ParamSpec> scratch_specs(const Shape& in) const override;
  void forward(Context& ctx, const Tensor& x, const Tensor& y) override;
  void backward(Context& ctx, const Tensor& x, const Tensor& y, const Tensor& dy,
                const Tensor* dx) override;
  nlohmann::json to_json() const override;
  std::string repr() const override;
  int64_t forward_flops(const Shape& in) const override;
  int64_t in_features() const { return in_features_; }
  int64_t out_features() const { return out_features_; }
  bool has_bias() const { return bias_; }

 private:
  int64_t in_features_, out_features_;
  bool bias_;
};

}  // namespace cnne
