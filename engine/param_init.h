#pragma once
// Note [parameter init]: a layer's `weight_init` and `bias_init` keys replace
// PyTorch's default initialization of that parameter with one of
// torch.nn.init's, by the same names and arguments:
//   "kaiming_uniform" / "kaiming_normal"  {"a": 0, "mode": "fan_in" | "fan_out",
//        "nonlinearity": "leaky_relu"}: bound sqrt(3) * std, std = gain / sqrt(fan)
//   "xavier_uniform" / "xavier_normal"    {"gain": 1}: std = gain * sqrt(2 / (fan_in + fan_out))
//   "normal" {"mean": 0, "std": 1}, "trunc_normal" {"mean": 0, "std": 1, "a": -2, "b": 2}
//   (a, b absolute bounds), "uniform" {"a": 0, "b": 1}, "constant" {"val": v},
//   "zeros", "ones"
// as a name (torch's default arguments) or an object {"type": name, ...}.
// Fans are torch's (_calculate_fan_in_and_fan_out): fan_in = size(1) * the
// receptive field (the product of the dims after the second), fan_out =
// size(0) * the receptive field, so a conv2d weight (K, C / groups, R, S) has
// fan_in C / groups * R * S and fan_out K * R * S; the fan-based inits need
// two or more dimensions. Gains are torch.nn.init.calculate_gain's (linear,
// conv2d, sigmoid 1; tanh 5/3; relu sqrt 2; leaky_relu sqrt(2 / (1 + a^2));
// selu 3/4). Draws come from the run's seeded generator, after the layer's
// default initialization, so the distribution is PyTorch's but not its
// numbers. torchvision's ResNet initialization is
// {"type": "kaiming_normal", "mode": "fan_out", "nonlinearity": "relu"} on
// each conv2d, and its zero_init_residual "weight_init": "zeros" on each
// block's last batchnorm2d.
#include <string>

#include <nlohmann/json.hpp>

#include "engine/rng.h"
#include "engine/tensor.h"

namespace cnne {

struct ParamInit {
  enum class Kind {
    kKaimingUniform,
    kKaimingNormal,
    kXavierUniform,
    kXavierNormal,
    kNormal,
    kTruncNormal,
    kUniform,
    kConstant
  };
  Kind kind = Kind::kConstant;
  std::string name;                         // the config's type: "kaiming_normal", "zeros", ...
  double a = 0.0;                           // kaiming: the leaky slope; trunc_normal, uniform: low
  double b = 0.0;                           // trunc_normal, uniform: high
  std::string mode = "fan_in";              // kaiming
  std::string nonlinearity = "leaky_relu";  // kaiming
  double gain = 1.0;                        // xavier
  double mean = 0.0, std = 1.0;             // normal, trunc_normal
  double val = 0.0;                         // constant (zeros 0, ones 1)

  // Whether it needs the fans of a tensor of two or more dimensions.
  bool needs_fans() const;
};

// Reads a weight_init / bias_init value; `where` names it in errors
// ("configs/x.json: network.layers[0] 'conv1': weight_init").
ParamInit parse_param_init(const nlohmann::json& value, const std::string& where);
// The config value that parses back to `init` (every argument written).
nlohmann::json param_init_json(const ParamInit& init);
// torch.nn.init.calculate_gain(nonlinearity, param=a).
double init_gain(const std::string& nonlinearity, double a);
// The (fan_in, fan_out) of a parameter of `shape` (rank >= 2).
std::pair<int64_t, int64_t> init_fans(const Shape& shape);
// Fills host F32 tensor t as `init` says, drawing from rng.
void fill_param(Rng& rng, const ParamInit& init, const Tensor& t);

}  // namespace cnne
