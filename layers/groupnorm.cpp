#include "layers/groupnorm.h"

#include <cmath>
#include <cstdio>

#include "engine/error.h"
#include "engine/ops.h"

namespace cnne {

GroupNorm::GroupNorm(std::string name, Kind kind, int64_t groups, int64_t channels, double eps,
                     bool affine)
    : Layer(std::move(name)),
      kind_(kind),
      groups_(groups),
      channels_(channels),
      eps_(eps),
      affine_(affine) {
  const char* count_key = kind_ == Kind::kGroup      ? "num_channels"
                          : kind_ == Kind::kInstance ? "num_features"
                                                     : "normalized_shape";
  if (channels_ < 1) throw ConfigError(where() + ": " + count_key + " must be >= 1");
  if (groups_ < 1) throw ConfigError(where() + ": num_groups must be >= 1");
  if (channels_ % groups_ != 0)
    throw ConfigError(where() + ": num_groups " + std::to_string(groups_) +
                      " must divide num_channels " + std::to_string(channels_) +
                      " (PyTorch's rule: every group has the same channels)");
  if (!(eps_ > 0 && std::isfinite(eps_)))
    throw ConfigError(where() + ": eps must be a positive number");
}

std::unique_ptr<Layer> GroupNorm::from_json(const std::string& name, JsonFields& f) {
  const int64_t groups = f.get_int("num_groups");
  const int64_t channels = f.get_int("num_channels");
  const double eps = f.get_number("eps", 1e-5);
  const bool affine = f.get_bool("affine", true);
  return std::make_unique<GroupNorm>(name, Kind::kGroup, groups, channels, eps, affine);
}

std::unique_ptr<Layer> GroupNorm::from_json_instance(const std::string& name, JsonFields& f) {
  const int64_t features = f.get_int("num_features");
  const double eps = f.get_number("eps", 1e-5);
  const bool affine = f.get_bool("affine", false);
  if (f.get_bool("track_running_stats", false))
    throw ConfigError(f.where() +
                      ": track_running_stats true is not supported (instance statistics only, "
                      "PyTorch's default; batchnorm2d keeps running statistics)");
  return std::make_unique<GroupNorm>(name, Kind::kInstance, features, features, eps, affine);
}

std::unique_ptr<Layer> GroupNorm::from_json_layer(const std::string& name, JsonFields& f) {
  // PyTorch's int or one-element list; more dimensions (the (C, H, W) form,
  // with a weight per element) are not taken.
  int64_t features = 0;
  const nlohmann::json& shape = f.get_raw("normalized_shape");
  if (shape.is_number_integer())
    features = shape.get<int64_t>();
  else if (shape.is_array() && shape.size() == 1 && shape[0].is_number_integer())
    features = shape[0].get<int64_t>();
  else
    throw ConfigError(f.error("normalized_shape",
                              "must be the feature count F of an (N, F) input, as an integer or "
                              "[F], got " +
                                  describe_json(shape) +
                                  " (for (N, C, H, W) use groupnorm: num_groups 1 normalizes "
                                  "each image over C, H and W)"));
  const double eps = f.get_number("eps", 1e-5);
  const bool affine = f.get_bool("elementwise_affine", true);
  return std::make_unique<GroupNorm>(name, Kind::kLayer, 1, features, eps, affine);
}

std::string GroupNorm::type() const {
  switch (kind_) {
    case Kind::kInstance:
      return "instancenorm2d";
    case Kind::kLayer:
      return "layernorm";
    default:
      return "groupnorm";
  }
}

Shape GroupNorm::output_shape(const Shape& in) const {
  const bool instance = kind_ == Kind::kInstance;
  if (kind_ == Kind::kLayer && in.rank() != 2)
    throw ConfigError(where() + ": expects an input of shape (N, F), got " + in.str() +
                      " (for (N, C, H, W) use groupnorm: num_groups 1 normalizes each image over "
                      "C, H and W, with a weight per channel)");
  if (kind_ == Kind::kLayer && in[1] != channels_)
    throw ConfigError(where() + ": normalized_shape is " + std::to_string(channels_) +
                      " but its input has " + std::to_string(in[1]) + " features (shape " +
                      in.str() + ")");
  if (in.rank() != 4 && (instance || in.rank() != 2))
    throw ConfigError(where() + ": expects an input of shape (N, C, H, W)" +
                      (instance ? std::string() : std::string(" or (N, C)")) + ", got " + in.str());
  if (in[1] != channels_)
    throw ConfigError(where() + ": " + (instance ? "num_features" : "num_channels") + " is " +
                      std::to_string(channels_) + " but its input has " + std::to_string(in[1]) +
                      " channels (shape " + in.str() + ")");
  // PyTorch: "Expected more than 1 spatial element when training".
  if (instance && in[2] * in[3] < 2)
    throw ConfigError(where() + ": needs more than 1 value per channel, got input " + in.str() +
                      " (1x1 maps normalize to 0)");
  return in;
}

std::vector<ParamSpec> GroupNorm::parameter_specs() const {
  if (!affine_) return {};
  return {{"weight", Shape{channels_}}, {"bias", Shape{channels_}}};
}

void GroupNorm::initialize(Rng&, std::span<const Tensor> params) const {
  for (int64_t i = 0; affine_ && i < channels_; ++i) {
    params[0].f32()[i] = 1.0f;  // PyTorch: weight ones, bias zeros
    params[1].f32()[i] = 0.0f;
  }
}

std::vector<ParamSpec> GroupNorm::scratch_specs(const Shape& in) const {
  return {{"save_mean", Shape{in[0], groups_}}, {"save_rstd", Shape{in[0], groups_}}};
}

Tensor GroupNorm::statistics(size_t which, int64_t n) const {
  return scratch_[which].slice(0, n * groups_).reshaped(Shape{n, groups_});
}

void GroupNorm::forward(Context& ctx, const Tensor& x, const Tensor& y) {
  const int64_t n = x.shape[0];
  ops::groupnorm_forward(ctx, groups_, static_cast<float>(eps_), as_maps(x),
                         affine_ ? &params_[0] : nullptr, affine_ ? &params_[1] : nullptr,
                         statistics(0, n), statistics(1, n), activation_, as_maps(y));
}

void GroupNorm::backward(Context& ctx, const Tensor& x, const Tensor&, const Tensor& dy,
                         const Tensor* dx) {
  if (!dx) throw Error(where() + ": backward needs a dx buffer (always_computes_dx)");
  const int64_t n = x.shape[0];
  ops::groupnorm_backward(ctx, groups_, as_maps(x), as_maps(dy), affine_ ? &params_[0] : nullptr,
                          statistics(0, n), statistics(1, n), as_maps(*dx),
                          affine_ ? &grads_[0] : nullptr, affine_ ? &grads_[1] : nullptr);
}

nlohmann::json GroupNorm::to_json() const {
  if (kind_ == Kind::kLayer)
    return {{"type", type()},
            {"name", name()},
            {"normalized_shape", channels_},
            {"eps", eps_},
            {"elementwise_affine", affine_}};
  if (kind_ == Kind::kInstance)
    return {{"type", type()},
            {"name", name()},
            {"num_features", channels_},
            {"eps", eps_},
            {"affine", affine_}};
  return {{"type", type()},        {"name", name()},
          {"num_groups", groups_}, {"num_channels", channels_},
          {"eps", eps_},           {"affine", affine_}};
}

std::string GroupNorm::repr() const {
  char text[160];
  if (kind_ == Kind::kLayer)
    std::snprintf(text, sizeof text, "LayerNorm((%lld,), eps=%g, elementwise_affine=%s)",
                  static_cast<long long>(channels_), eps_, affine_ ? "True" : "False");
  else if (kind_ == Kind::kInstance)
    std::snprintf(
        text, sizeof text,
        "InstanceNorm2d(%lld, eps=%g, momentum=0.1, affine=%s, track_running_stats=False)",
        static_cast<long long>(channels_), eps_, affine_ ? "True" : "False");
  else
    std::snprintf(text, sizeof text, "GroupNorm(%lld, %lld, eps=%g, affine=%s)",
                  static_cast<long long>(groups_), static_cast<long long>(channels_), eps_,
                  affine_ ? "True" : "False");
  return text;
}

}  // namespace cnne
