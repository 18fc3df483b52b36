#pragma once
// GroupNorm: PyTorch's nn.GroupNorm(num_groups, num_channels, eps, affine),
// nn.InstanceNorm2d(num_features, eps, affine) (one channel per group, no
// running statistics) and nn.LayerNorm(normalized_shape, eps,
// elementwise_affine) over the features of (N, F) (one group of F: the same
// arithmetic). x, y (N, C, H, W), or (N, C) for groupnorm and layernorm (as
// (N, C, 1, 1)); weight, bias (C) when affine; scratch save_mean, save_rstd
// (N, groups) at the largest batch. Each image's groups of C / groups channels
// are normalized over their values with their own statistics, in training and
// in evaluation alike, so unlike BatchNorm the result does not depend on the
// batch (Wu & He 2018): it trains at batch 4 as well as at 256.
#include "engine/json_fields.h"
#include "layers/layer.h"

namespace cnne {

class GroupNorm : public Layer {
 public:
  enum class Kind { kGroup, kInstance, kLayer };  // nn.GroupNorm, InstanceNorm2d, LayerNorm

  GroupNorm(std::string name, Kind kind, int64_t groups, int64_t channels, double eps, bool affine);
  static std::unique_ptr<Layer> from_json(const std::string& name, JsonFields& fields);
  static std::unique_ptr<Layer> from_json_instance(const std::string& name, JsonFields& fields);
  static std::unique_ptr<Layer> from_json_layer(const std::string& name, JsonFields& fields);

  std::string type() const override;
  bool supports_channels_last() const override { return true; }
  Shape output_shape(const Shape& in) const override;
  std::vector<ParamSpec> parameter_specs() const override;
  void initialize(Rng& rng, std::span<const Tensor> params) const override;
  std::vector<ParamSpec> scratch_specs(const Shape& in) const override;
  bool always_computes_dx() const override { return true; }
  // Its backward reads x and dy, never y: a following ReLU can be fused.
  bool can_fuse_relu() const override { return true; }
  void forward(Context& ctx, const Tensor& x, const Tensor& y) override;
  void backward(Context& ctx, const Tensor& x, const Tensor& y, const Tensor& dy,
                const Tensor* dx) override;
  nlohmann::json to_json() const override;
  std::string repr() const override;
  int64_t forward_flops(const Shape& in) const override { return 2 * in.numel(); }
  int64_t groups() const { return groups_; }
  double eps() const { return eps_; }
  bool affine() const { return affine_; }

 private:
  // save_mean (which 0) or save_rstd (1) of a batch of n: (n, groups).
  Tensor statistics(size_t which, int64_t n) const;

  Kind kind_;
  int64_t groups_, channels_;
  double eps_;
  bool affine_;
};

}  // namespace cnne
