#pragma once
// BatchNorm: PyTorch's nn.BatchNorm2d and nn.BatchNorm1d (affine, tracking
// running statistics). x, y (N, C, H, W) for 2d, (N, C) for 1d (the same
// arithmetic over (N, C, 1, 1): statistics per feature over the batch);
// weight, bias (C); buffers running_mean, running_var (C); counter
// num_batches_tracked. Training mode normalizes with the batch's statistics;
// evaluation mode with the running ones.
#include "engine/json_fields.h"
#include "layers/layer.h"

namespace cnne {

class BatchNorm : public Layer {
 public:
  enum class Kind { k1d, k2d };  // nn.BatchNorm1d on (N, C), nn.BatchNorm2d on (N, C, H, W)

  BatchNorm(std::string name, Kind kind, int64_t features, double eps, double momentum);
  static std::unique_ptr<Layer> from_json(Kind kind, const std::string& name, JsonFields& fields);

  std::string type() const override { return kind_ == Kind::k1d ? "batchnorm1d" : "batchnorm2d"; }
  bool supports_channels_last() const override { return true; }
  Shape output_shape(const Shape& in) const override;
  std::vector<ParamSpec> parameter_specs() const override;
  void initialize(Rng& rng, std::span<const Tensor> params) const override;
  std::vector<ParamSpec> buffer_specs() const override;
  void initialize_buffers(std::span<const Tensor> host) const override;
  std::vector<ParamSpec> scratch_specs(const Shape& in) const override;
  size_t workspace_bytes(Context& ctx, const Shape& in) const override;
  bool always_computes_dx() const override { return true; }
  // Its backward reads x and dy, never y: a following ReLU can be fused.
  bool can_fuse_relu() const override { return true; }
  std::vector<std::pair<std::string, int64_t>> counters() const override;
  void set_counter(const std::string& name, int64_t value) override;
  void advance_counters(int64_t steps) override { batches_tracked_ += steps; }
  void set_statistics_momentum(double momentum) override { momentum_override_ = momentum; }
  void forward(Context& ctx, const Tensor& x, const Tensor& y) override;
  void backward(Context& ctx, const Tensor& x, const Tensor& y, const Tensor& dy,
                const Tensor* dx) override;
  nlohmann::json to_json() const override;
  std::string repr() const override;
  int64_t forward_flops(const Shape& in) const override { return 2 * in.numel(); }
  double eps() const { return eps_; }

 private:
  Kind kind_;
  int64_t features_;
  double eps_, momentum_;
  double momentum_override_ = -1;  // < 0: momentum_ (set_statistics_momentum)
  int64_t batches_tracked_ = 0;
};

}  // namespace cnne
