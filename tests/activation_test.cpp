// The activations besides ReLU (layers/activation.h): PyTorch's outputs and
// gradients (tests/fixtures/layer_parity.safetensors, made by
// tools/make_layer_fixtures.py), finite differences, the backward
// contract, NaN, 16-bit storage, the config entries and the model printout.
#include <gtest/gtest.h>

#include <cmath>
#include <cstring>
#include <limits>

#include "engine/config.h"
#include "engine/half.h"
#include "engine/network.h"
#include "engine/safetensors.h"
#include "layers/activation.h"
#include "layers/registry.h"
#include "tests/test_util.h"

namespace cnne {
namespace {

using test::HostTensor;

// A host view of 16-bit values.
Tensor bf16_view(std::vector<uint16_t>& v, Shape s) {
  Tensor t;
  t.data = v.data();
  t.shape = s;
  t.dtype = DType::BF16;
  return t;
}

std::unique_ptr<Layer> layer_from(const nlohmann::json& entry) {
  return test::layer_from_entry(entry, "act");
}

TEST(Activations, MatchPyTorchForwardAndBackwardAndPrintLikeIt) {
  const Safetensors fx = load_safetensors(test::fixtures_dir() + "/layer_parity.safetensors");
  const HostTensor x = test::host_tensor(*fx.find("x")), dy = test::host_tensor(*fx.find("dy"));
  const nlohmann::json modules = nlohmann::json::parse(fx.metadata.at("modules"));
  ASSERT_EQ(modules.size(), 14u);
  for (const auto& [name, entry_and_repr] : modules.items()) {
    std::unique_ptr<Layer> layer = layer_from(entry_and_repr[0]);
    EXPECT_EQ(layer->repr(), entry_and_repr[1].get<std::string>()) << name;
    Context ctx(Device::CPU);
    test::LayerHarness h(ctx, *layer, x.shape);
    const HostTensor y = h.forward(x);
    const HostTensor dx = h.backward(x, y, dy);
    // a few ulps of |x| <= 6: glibc's tanhf/expf/erff against PyTorch's vectorized
    // ones (GELU's 1 + erf and 1 + tanh cancel for x < -2: PyTorch's tanh
    // saturates to -1 at x = -5 where glibc's is -1 + 2^-24); NaN where PyTorch's is
    EXPECT_EQ(test::first_mismatch(y, test::host_tensor(*fx.find(name + ".y")), 2e-6, 1e-6), "")
        << name << " y";
    EXPECT_EQ(test::first_mismatch(dx, test::host_tensor(*fx.find(name + ".dx")), 2e-6, 1e-6), "")
        << name << " dx";
  }
}

std::vector<nlohmann::json> every_activation() {
  return {{{"type", "tanh"}},
          {{"type", "sigmoid"}},
          {{"type", "leaky_relu"}, {"negative_slope", 0.1}},
          {{"type", "elu"}, {"alpha", 1.5}},
          {{"type", "silu"}},
          {{"type", "gelu"}},
          {{"type", "gelu"}, {"approximate", "tanh"}},
          {{"type", "relu6"}},
          {{"type", "hardsigmoid"}},
          {{"type", "hardswish"}},
          {{"type", "mish"}},
          {{"type", "selu"}}};
}

TEST(Activations, GradientsMatchFiniteDifferencesAwayFromTheKinks) {
  Rng rng(6);
  const Shape in{2, 3, 4, 5};
  HostTensor x(in);
  // 0.05 <= |x| <= 2.9, eps away from every kink (0 for leaky_relu, elu and
  // relu6; -3 and 3 for hardsigmoid and hardswish)
  for (auto& v : x.values) v = (rng.uniform01() < 0.5f ? -1.0f : 1.0f) * rng.uniform(0.05f, 2.9f);
  for (const nlohmann::json& entry : every_activation()) {
    std::unique_ptr<Layer> layer = layer_from(entry);
    EXPECT_EQ(test::gradient_check(*layer, in, x, 4), "") << entry.dump();
  }
}

TEST(Activations, AssignEveryGradientAndKeepNaN) {
  const float nan = std::numeric_limits<float>::quiet_NaN();
  for (const nlohmann::json& entry : every_activation()) {
    std::unique_ptr<Layer> layer = layer_from(entry);
    Context ctx(Device::CPU);
    const Shape in{3, 7};
    test::LayerHarness h(ctx, *layer, in);
    Rng rng(2);
    HostTensor x = test::random_tensor(rng, in, -3, 3);
    x.values[4] = nan;
    const HostTensor y = h.forward(x);
    const HostTensor dy = test::random_tensor(rng, in);
    HostTensor dx(in, nan);  // Note [backward contract]: every element written
    const Tensor dx_view = dx.view();
    layer->backward(ctx, x.view(), y.view(), dy.view(), &dx_view);
    // leaky_relu's comparison sends NaN down its negative branch, relu6's and
    // hardsigmoid's to 0, as PyTorch's do (the fixture's NaN pins that): a
    // finite gradient
    const std::string type = entry["type"];
    const bool nan_gradient = type != "leaky_relu" && type != "relu6" && type != "hardsigmoid";
    for (size_t i = 0; i < dx.values.size(); ++i) {
      EXPECT_EQ(std::isnan(y.values[i]), i == 4) << entry.dump() << " y " << i;
      EXPECT_EQ(std::isnan(dx.values[i]), i == 4 && nan_gradient) << entry.dump() << " dx " << i;
    }
  }
}

// Note [mixed precision]: 16-bit storage, float arithmetic: y = round(f(x)).
TEST(Activations, SixteenBitStorageRoundsTheFloatResult) {
  Rng rng(8);
  const Shape in{4, 9};
  std::vector<uint16_t> x(in.numel()), y(in.numel());
  for (auto& v : x) v = float_to_bf16(rng.uniform(-4.0f, 4.0f));
  for (const nlohmann::json& entry : every_activation()) {
    std::unique_ptr<Layer> layer = layer_from(entry);
    const auto& a = dynamic_cast<const ActivationLayer&>(*layer);
    Context ctx(Device::CPU);
    ops::activation_forward(ctx, a.kind(), static_cast<float>(a.param()), bf16_view(x, in),
                            bf16_view(y, in));
    std::vector<float> xf(in.numel()), want(in.numel());
    for (size_t i = 0; i < x.size(); ++i) xf[i] = bf16_to_float(x[i]);
    ops::activation_forward(ctx, a.kind(), static_cast<float>(a.param()), Tensor(xf.data(), in),
                            Tensor(want.data(), in));
    for (size_t i = 0; i < y.size(); ++i)
      ASSERT_EQ(y[i], float_to_bf16(want[i])) << entry.dump() << " " << i;
  }
}

TEST(Activations, ConfigEntriesRoundTripAndShowInTheModel) {
  nlohmann::json j = parse_json_text(Config::embedded_default(), "simplecnn.json");
  auto& layers = j["network"]["layers"];
  layers[1] = {{"type", "tanh"}, {"name", "act1"}};
  layers[4] = {{"type", "leaky_relu"}, {"name", "act2"}, {"negative_slope", 0.2}};
  layers[8] = {{"type", "gelu"}, {"name", "act3"}};
  layers[10] = {{"type", "elu"}, {"name", "act4"}};
  const Config c = Config::from_json(j, "x.json");
  Network net = Network::from_json(c.network, "x.json");
  const std::string printed = net.repr();
  for (const char* line : {"(act1): Tanh()", "(act2): LeakyReLU(negative_slope=0.2)",
                           "(act3): GELU(approximate='none')", "(act4): ELU(alpha=1.0)"})
    EXPECT_NE(printed.find(line), std::string::npos) << line << "\n" << printed;
  // The network's config rebuilds the same network (defaults written out).
  const nlohmann::json again = net.to_json();
  EXPECT_EQ(again["layers"][10]["alpha"], 1.0);
  EXPECT_EQ(Network::from_json(again, "y.json").repr(), printed);
  EXPECT_EQ(net.layer(1).type(), "tanh");
}

}  // namespace
}  // namespace cnne
