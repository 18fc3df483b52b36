#pragma once
// Conv2d: PyTorch's nn.Conv2d, dilation and groups included (depthwise when
// groups = in_channels).
// x (N, C, H, W) -> y (N, K, P, Q); weight (K, C / groups, R, S); bias (K)
#include "engine/json_fields.h"
#include "engine/ops.h"
#include "layers/layer.h"

namespace cnne {

class Conv2d : public Layer {
 public:
  struct Options {
    int64_t in_channels = 0, out_channels = 0;
    int64_t kernel_h = 1, kernel_w = 1;
    Conv2dParams params;
    // "same" or "valid" when the config gave padding as nn.Conv2d's string
    // (params holds the numbers it stands for); kept for the printout and JSON.
    std::string padding_mode;
    bool bias = true;
  };

  Conv2d(std::string name, const Options& options);
  static std::unique_ptr<Layer> from_json(const std::string& name, JsonFields& fields);

  std::string type() const override { return "conv2d"; }
  bool supports_channels_last() const override { return true; }
  Shape output_shape(const Shape& in) const override;
  std::vector<ParamSpec> parameter_specs() const override;
  void initialize(Rng& rng, std::span<const Tensor> params) const override;
  size_t workspace_bytes(Context& ctx, const Shape& in) const override;
  bool can_fuse_relu() const override { return true; }
  std::vector<ParamSpec> scratch_specs(const Shape& in) const override;
  void forward(Context& ctx, const Tensor& x, const Tensor& y) override;
  void backward(Context& ctx, const Tensor& x, const Tensor& y, const Tensor& dy,
                const Tensor* dx) override;
  nlohmann::json to_json() const override;
  std::string repr() const override;
  int64_t forward_flops(const Shape& in) const override;

  const Options& options() const { return options_; }

 private:
  Shape weight_shape() const;

  Options options_;
};

}  // namespace cnne
