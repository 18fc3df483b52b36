#include "layers/batchnorm.h"

#include <cstdio>

#include "engine/error.h"
#include "engine/ops.h"
#include "layers/batchnorm_partials.h"

namespace cnne {

BatchNorm::BatchNorm(std::string name, Kind kind, int64_t features, double eps, double momentum)
    : Layer(std::move(name)), kind_(kind), features_(features), eps_(eps), momentum_(momentum) {
  if (features_ < 1) throw ConfigError(where() + ": num_features must be >= 1");
  // cuDNN raises a smaller eps to CUDNN_BN_MIN_EPSILON (1e-5) without a word;
  // refusing it keeps the CPU and the GPU computing the same thing.
  if (!(eps_ >= 1e-5))
    throw ConfigError(where() + ": eps must be >= 1e-5 (cuDNN's smallest; PyTorch's default)");
  if (!(momentum_ >= 0 && momentum_ <= 1))
    throw ConfigError(where() + ": momentum must be in [0, 1]");
}

std::unique_ptr<Layer> BatchNorm::from_json(Kind kind, const std::string& name, JsonFields& f) {
  const int64_t features = f.get_int("num_features");
  const double eps = f.get_number("eps", 1e-5);
  const double momentum = f.get_number("momentum", 0.1);
  return std::make_unique<BatchNorm>(name, kind, features, eps, momentum);
}

Shape BatchNorm::output_shape(const Shape& in) const {
  if (kind_ == Kind::k2d && in.rank() != 4)
    throw ConfigError(where() + ": expects an input of shape (N, C, H, W), got " + in.str() +
                      (in.rank() == 2 ? " (batchnorm1d takes (N, C))" : ""));
  if (kind_ == Kind::k1d && in.rank() != 2)
    throw ConfigError(where() + ": expects an input of shape (N, C), got " + in.str() +
                      (in.rank() == 4 ? " (batchnorm2d takes (N, C, H, W))" : ""));
  if (in[1] != features_)
    throw ConfigError(where() + ": num_features is " + std::to_string(features_) +
                      " but its input has " + std::to_string(in[1]) +
                      (kind_ == Kind::k1d ? " features" : " channels") + " (shape " + in.str() +
                      ")");
  return in;
}

std::vector<ParamSpec> BatchNorm::parameter_specs() const {
  return {{"weight", Shape{features_}}, {"bias", Shape{features_}}};
}

void BatchNorm::initialize(Rng&, std::span<const Tensor> params) const {
  for (int64_t i = 0; i < features_; ++i) {
    params[0].f32()[i] = 1.0f;  // PyTorch: weight ones, bias zeros
    params[1].f32()[i] = 0.0f;
  }
}

std::vector<ParamSpec> BatchNorm::buffer_specs() const {
  return {{"running_mean", Shape{features_}}, {"running_var", Shape{features_}}};
}

void BatchNorm::initialize_buffers(std::span<const Tensor> host) const {
  for (int64_t i = 0; i < features_; ++i) {
    host[0].f32()[i] = 0.0f;
    host[1].f32()[i] = 1.0f;
  }
}

std::vector<ParamSpec> BatchNorm::scratch_specs(const Shape&) const {
  return {{"save_mean", Shape{features_}}, {"save_invstd", Shape{features_}}};
}

size_t BatchNorm::workspace_bytes(Context&, const Shape& in) const {
  // the GPU's per-block partial sums
  return batchnorm_partial_bytes(in.rank() == 2 ? Shape{in[0], in[1], 1, 1} : in);
}

std::vector<std::pair<std::string, int64_t>> BatchNorm::counters() const {
  return {{"num_batches_tracked", batches_tracked_}};
}

void BatchNorm::set_counter(const std::string& name, int64_t value) {
  if (name == "num_batches_tracked") batches_tracked_ = value;
}

void BatchNorm::forward(Context& ctx, const Tensor& x_in, const Tensor& y_in) {
  const Tensor x = as_maps(x_in), y = as_maps(y_in);  // (N, C, H, W)
  if (training()) {
    // PyTorch's rule: batch statistics need two values (the unbiased variance divides by n - 1).
    if (x.shape[0] * x.shape[2] * x.shape[3] < 2)
      throw Error(where() + ": training needs more than 1 value per " +
                  (kind_ == Kind::k1d ? "feature" : "channel") + ", got input " + x_in.shape.str() +
                  (kind_ == Kind::k1d ? " (a batch of 1; as PyTorch refuses it)"
                                      : " (a batch of 1 with 1x1 maps; as PyTorch refuses it)"));
    const double momentum = momentum_override_ >= 0 ? momentum_override_ : momentum_;
    ops::batchnorm_forward_training(ctx, x, params_[0], params_[1], static_cast<float>(momentum),
                                    static_cast<float>(eps_), buffers_[0], buffers_[1], scratch_[0],
                                    scratch_[1], activation_, y);
  } else {
    ops::batchnorm_forward_inference(ctx, x, params_[0], params_[1], buffers_[0], buffers_[1],
                                     static_cast<float>(eps_), activation_, y);
  }
}

void BatchNorm::backward(Context& ctx, const Tensor& x, const Tensor&, const Tensor& dy,
                         const Tensor* dx) {
  if (!training()) throw Error(where() + ": backward in evaluation mode is not supported");
  if (!dx) throw Error(where() + ": backward needs a dx buffer (always_computes_dx)");
  ops::batchnorm_backward(ctx, as_maps(x), as_maps(dy), params_[0], scratch_[0], scratch_[1],
                          static_cast<float>(eps_), as_maps(*dx), grads_[0], grads_[1]);
}

nlohmann::json BatchNorm::to_json() const {
  return {{"type", type()},
          {"name", name()},
          {"num_features", features_},
          {"eps", eps_},
          {"momentum", momentum_}};
}

std::string BatchNorm::repr() const {
  char text[160];
  std::snprintf(text, sizeof text,
                "BatchNorm%s(%lld, eps=%g, momentum=%g, affine=True, track_running_stats=True)",
                kind_ == Kind::k1d ? "1d" : "2d", static_cast<long long>(features_), eps_,
                momentum_);
  return text;
}

}  // namespace cnne
