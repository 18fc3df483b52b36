// Note [parameter init] (engine/param_init.h): torch.nn.init's initializers
// against what PyTorch 1.13 makes of the same shapes and arguments
// (tests/fixtures/param_init.json, tools/make_init_fixtures.py): the formula's
// standard deviation and bound, and the distribution of a filled tensor; the
// weight_init / bias_init keys through a network, its JSON round trip and
// one-line errors naming the layer and the key.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <fstream>
#include <functional>

#include "engine/error.h"
#include "engine/network.h"
#include "engine/param_init.h"
#include "tests/network_error.h"
#include "tests/test_util.h"

namespace cnne {
namespace {

struct Moments {
  double mean = 0, std = 0, min = 0, max = 0;
};

Moments moments_of(const std::vector<float>& v) {
  Moments m{0, 0, v.empty() ? 0.0 : v[0], v.empty() ? 0.0 : v[0]};
  for (float x : v) {
    m.mean += x;
    m.min = std::min(m.min, double(x));
    m.max = std::max(m.max, double(x));
  }
  m.mean /= static_cast<double>(v.size());
  for (float x : v) m.std += (x - m.mean) * (x - m.mean);
  m.std = std::sqrt(m.std / static_cast<double>(v.size()));
  return m;
}

TEST(ParamInit, MatchesTorchNnInitDistributions) {
  std::ifstream in(test::fixtures_dir() + "/param_init.json");
  const nlohmann::json fixture = nlohmann::json::parse(in);
  ASSERT_EQ(fixture["cases"].size(), 16u);
  Rng rng(11);
  for (const nlohmann::json& c : fixture["cases"]) {
    const std::string name = c["name"];
    const std::vector<int64_t> dims = c["shape"];
    const Shape shape = Shape::of(dims);
    const ParamInit init = parse_param_init(c["init"], name);
    std::vector<float> values(static_cast<size_t>(shape.numel()), NAN);  // (numel) F32
    fill_param(rng, init, Tensor(values.data(), shape));
    const Moments got = moments_of(values);
    const double n = static_cast<double>(values.size());
    const double torch_std = c["std"];
    if (!c["formula_std"].is_null()) {  // the fan and gain as torch computes them
      const double formula = c["formula_std"];
      EXPECT_NEAR(got.std, formula, 0.04 * formula) << name;
      EXPECT_NEAR(got.std, torch_std, 0.05 * torch_std) << name;
    } else if (torch_std > 0) {
      EXPECT_NEAR(got.std, torch_std, 0.04 * torch_std) << name;
    }
    if (torch_std == 0) {  // constants: every value exactly
      EXPECT_EQ(got.min, c["min"].get<double>()) << name;
      EXPECT_EQ(got.max, c["max"].get<double>()) << name;
      continue;
    }
    // the mean within 5 standard errors of PyTorch's
    EXPECT_NEAR(got.mean, c["mean"].get<double>(), 5 * torch_std / std::sqrt(n)) << name;
    if (!c["formula_bound"].is_null()) {  // uniform: inside the bound and reaching it
      const double bound = c["formula_bound"];
      EXPECT_LE(std::max(-got.min, got.max), bound * (1 + 1e-6)) << name;
      EXPECT_GE(std::min(-got.min, got.max), 0.99 * bound) << name;
    }
    // trunc_normal and uniform: inside [a, b]; where the ends bind (not with
    // std 0.02 in [-2, 2]), reaching them as PyTorch's does
    if (name.rfind("trunc_normal", 0) == 0 || name == "uniform") {
      const nlohmann::json& spec = c["init"];  // torch's defaults: trunc_normal [-2, 2]
      const double a = spec.value("a", -2.0), b = spec.value("b", 2.0);
      const double range = c["max"].get<double>() - c["min"].get<double>();
      EXPECT_GE(got.min, a - 1e-6) << name;
      EXPECT_LE(got.max, b + 1e-6) << name;
      if (name == "trunc_normal_vit") continue;
      EXPECT_NEAR(got.min, c["min"].get<double>(), 0.02 * range) << name;
      EXPECT_NEAR(got.max, c["max"].get<double>(), 0.02 * range) << name;
    }
  }
}

TEST(ParamInit, GainsAndFansAreTorchs) {
  EXPECT_DOUBLE_EQ(init_gain("relu", 0), std::sqrt(2.0));
  EXPECT_DOUBLE_EQ(init_gain("leaky_relu", 0.2), std::sqrt(2.0 / 1.04));
  EXPECT_DOUBLE_EQ(init_gain("tanh", 0), 5.0 / 3.0);
  EXPECT_DOUBLE_EQ(init_gain("conv2d", 0), 1.0);
  EXPECT_DOUBLE_EQ(init_gain("selu", 0), 0.75);
  EXPECT_THROW(init_gain("swish", 0), ConfigError);
  EXPECT_EQ(init_fans(Shape{64, 8, 3, 5}), (std::pair<int64_t, int64_t>{8 * 15, 64 * 15}));
  EXPECT_EQ(init_fans(Shape{10, 84}), (std::pair<int64_t, int64_t>{84, 10}));
  EXPECT_THROW(init_fans(Shape{10}), Error);
}

nlohmann::json inits_network() {
  return nlohmann::json::parse(R"({
    "name": "Inits", "input": [3, 8, 8], "layers": [
      {"type": "conv2d", "name": "conv1", "in_channels": 3, "out_channels": 32, "kernel_size": 3,
       "padding": 1, "weight_init": {"type": "kaiming_normal", "mode": "fan_out",
       "nonlinearity": "relu"}, "bias_init": "zeros"},
      {"type": "batchnorm2d", "name": "bn1", "num_features": 32, "weight_init": "zeros",
       "bias_init": {"type": "constant", "val": 0.5}},
      {"type": "relu", "name": "relu1"},
      {"type": "global_avgpool2d", "name": "gap"},
      {"type": "flatten", "name": "flat"},
      {"type": "linear", "name": "fc1", "in_features": 32, "out_features": 300,
       "weight_init": {"type": "normal", "std": 0.01}},
      {"type": "linear", "name": "fc2", "in_features": 300, "out_features": 10}]})");
}

// The values of parameter `name` after net.initialize(rng).
std::vector<float> param_values(const Network& net, const std::vector<float>& all,
                                const std::string& name) {
  for (const NamedParam& p : net.parameters())
    if (p.name == name) return {all.begin() + p.offset, all.begin() + p.offset + p.shape.numel()};
  ADD_FAILURE() << "no parameter " << name;
  return {};
}

TEST(ParamInit, ConfigKeysReachTheNetworkAndRoundTrip) {
  Context ctx(Device::CPU);
  Network net = Network::from_json(inits_network(), "inits.json");
  net.setup(ctx, {2});
  Rng rng(3);
  net.initialize(rng);
  const std::vector<float> all = net.download_parameters();
  const Moments conv = moments_of(param_values(net, all, "conv1.weight"));
  EXPECT_NEAR(conv.std, std::sqrt(2.0 / (32 * 9)), 0.1 * std::sqrt(2.0 / (32 * 9)));
  for (float v : param_values(net, all, "conv1.bias")) ASSERT_EQ(v, 0.0f);
  for (float v : param_values(net, all, "bn1.weight")) ASSERT_EQ(v, 0.0f);  // zero_init_residual
  for (float v : param_values(net, all, "bn1.bias")) ASSERT_EQ(v, 0.5f);
  EXPECT_NEAR(moments_of(param_values(net, all, "fc1.weight")).std, 0.01, 0.0005);
  // fc2 keeps PyTorch's default: U(-1/sqrt(300), 1/sqrt(300)), bias too
  const Moments fc2 = moments_of(param_values(net, all, "fc2.weight"));
  EXPECT_LE(std::max(-fc2.min, fc2.max), 1.0 / std::sqrt(300.0));
  EXPECT_GE(std::max(-fc2.min, fc2.max), 0.95 / std::sqrt(300.0));
  // The network's JSON writes every argument and rebuilds the same inits.
  const nlohmann::json again = net.to_json();
  EXPECT_EQ(
      again["layers"][0]["weight_init"],
      nlohmann::json::parse(
          R"({"type": "kaiming_normal", "a": 0.0, "mode": "fan_out", "nonlinearity": "relu"})"));
  EXPECT_EQ(again["layers"][0]["bias_init"], nlohmann::json::parse(R"({"type": "zeros"})"));
  EXPECT_EQ(again["layers"][5]["weight_init"],
            nlohmann::json::parse(R"({"type": "normal", "mean": 0.0, "std": 0.01})"));
  EXPECT_FALSE(again["layers"][6].contains("weight_init"));
  Network rebuilt = Network::from_json(again, "again.json");
  EXPECT_EQ(rebuilt.to_json(), again);
  rebuilt.setup(ctx, {2});
  Rng same(3);
  rebuilt.initialize(same);
  EXPECT_EQ(rebuilt.download_parameters(), all);  // the same draws from the same seed
}

TEST(ParamInit, BadValuesAreOneLineErrorsNamingTheLayerAndKey) {
  const auto error_of = [&](const std::function<void(nlohmann::json&)>& edit) {
    return test::network_error_of(inits_network(), edit, "inits.json");
  };
  const auto has = [](const std::string& message, const std::string& part) {
    return message.find(part) != std::string::npos && message.find('\n') == std::string::npos;
  };
  const auto l = [](nlohmann::json& j, int i) -> nlohmann::json& { return j["layers"][i]; };
  std::string e = error_of([&](auto& j) { l(j, 0)["weight_init"] = "he_normal"; });
  EXPECT_TRUE(has(e,
                  "inits.json: network.layers[0] 'conv1': weight_init: 'he_normal' is not an "
                  "init (kaiming_uniform, kaiming_normal, xavier_uniform, xavier_normal, "
                  "normal, trunc_normal, uniform, constant, zeros or ones)"))
      << e;
  e = error_of([&](auto& j) { l(j, 0)["weight_init"]["mode"] = "fan_avg"; });
  EXPECT_TRUE(has(e, "'conv1': weight_init: key 'mode' is 'fan_avg', expected fan_in or fan_out"))
      << e;
  e = error_of([&](auto& j) { l(j, 0)["weight_init"]["nonlinearity"] = "swish"; });
  EXPECT_TRUE(has(e, "key 'nonlinearity' is 'swish', expected linear, conv2d")) << e;
  e = error_of([&](auto& j) { l(j, 0)["weight_init"]["gain"] = 2; });
  EXPECT_TRUE(has(e, "unknown key 'gain'")) << e;
  e = error_of([&](auto& j) { l(j, 5)["weight_init"]["std"] = 0; });
  EXPECT_TRUE(has(e, "'fc1': weight_init: key 'std' must be > 0")) << e;
  e = error_of([&](auto& j) {
    l(j, 5)["weight_init"] = {{"type", "trunc_normal"}, {"mean", 10}, {"std", 1}};
  });
  EXPECT_TRUE(has(e, "of the normal's mass; it must hold at least 0.001")) << e;
  e = error_of([&](auto& j) {
    l(j, 5)["weight_init"] = {{"type", "uniform"}, {"a", 1}, {"b", 1}};
  });
  EXPECT_TRUE(has(e, "key 'b' must be above a")) << e;
  e = error_of([&](auto& j) { l(j, 1)["bias_init"] = {{"type", "constant"}}; });
  EXPECT_TRUE(has(e, "'bn1': bias_init")) << e;
  EXPECT_TRUE(has(e, "'val'")) << e;
  e = error_of([&](auto& j) { l(j, 1)["weight_init"] = "kaiming_uniform"; });
  EXPECT_TRUE(has(e,
                  "'bn1': key 'weight_init' 'kaiming_uniform' needs the fans of a tensor of "
                  "two or more dimensions, and weight is [32]"))
      << e;
  e = error_of([&](auto& j) {
    l(j, 0)["bias"] = false;  // conv1 then has no bias to initialize
  });
  EXPECT_TRUE(has(
      e, "'conv1': key 'bias_init' is given, but the layer has no bias (its parameters: weight)"))
      << e;
  e = error_of([&](auto& j) { l(j, 3)["weight_init"] = "zeros"; });
  EXPECT_TRUE(has(e,
                  "'gap': key 'weight_init' is given, but the layer has no weight (it has no "
                  "parameters)"))
      << e;
  e = error_of([&](auto& j) { l(j, 1)["bias_init"] = "constant"; });
  EXPECT_TRUE(has(e,
                  "'bn1': bias_init: 'constant' needs its value: {\"type\": \"constant\", "
                  "\"val\": v}"))
      << e;
  e = error_of([&](auto& j) { l(j, 5)["weight_init"] = 0.5; });
  EXPECT_TRUE(has(e, "must be an init's name")) << e;
}

}  // namespace
}  // namespace cnne
