// groupnorm, instancenorm2d and layernorm (nn.GroupNorm, nn.InstanceNorm2d,
// nn.LayerNorm over the features of (N, F)): PyTorch's
// output and gradients (tests/fixtures/groupnorm_parity.safetensors, made by
// tools/make_groupnorm_fixtures.py), finite differences, independence from
// the batch, their place in a network (shapes, state_dict names, ReLU fusion,
// the printout, the round trip) and the config's checks. The GPU kernels
// against the CPU are in tests/emulated_groupnorm_test.cpp (on every machine)
// and tests/gpu_test.cpp (on a GPU).
#include <gtest/gtest.h>

#include <algorithm>
#include <utility>

#include "engine/error.h"
#include "engine/network.h"
#include "engine/safetensors.h"
#include "layers/groupnorm.h"
#include "tests/test_util.h"

namespace cnne {
namespace {

using test::HostTensor;

HostTensor fixture_tensor(const Safetensors& fx, const std::string& key) {
  const SafetensorsTensor* t = fx.find(key);
  if (!t) throw Error("fixture has no " + key);
  return test::host_tensor(*t);
}

TEST(GroupNorm, MatchesPyTorchAndPrintsLikeIt) {
  const Safetensors fx = load_safetensors(test::fixtures_dir() + "/groupnorm_parity.safetensors");
  const nlohmann::json cases = nlohmann::json::parse(fx.metadata.at("cases"));
  ASSERT_EQ(cases.size(), 10u);
  for (const int threads : {1, 3})
    for (const auto& [case_name, c] : cases.items()) {
      const std::string name = case_name, at = name + ", " + std::to_string(threads) + " threads";
      std::unique_ptr<Layer> layer = test::layer_from_entry(c[0], "gn");
      EXPECT_EQ(layer->repr(), c[1].get<std::string>()) << at;
      const HostTensor x = fixture_tensor(fx, name + ".x");
      ASSERT_EQ(x.shape, Shape::of(c[2].get<std::vector<int64_t>>())) << at;
      Context ctx(Device::CPU, threads);
      test::LayerHarness bound(ctx, *layer, x.shape);
      const bool affine = fx.find(name + ".weight") != nullptr;
      ASSERT_EQ(bound.params().size(), affine ? 2u : 0u) << at;
      EXPECT_TRUE(bound.buffers().empty()) << at;  // no running statistics
      if (affine) {  // into the harness's own memory, which the layer is bound to
        const HostTensor weight = fixture_tensor(fx, name + ".weight"),
                         bias = fixture_tensor(fx, name + ".bias");
        ASSERT_EQ(weight.shape, bound.params()[0].shape) << at;
        std::copy(weight.values.begin(), weight.values.end(), bound.params()[0].values.begin());
        std::copy(bias.values.begin(), bias.values.end(), bound.params()[1].values.begin());
      }
      const HostTensor y = bound.forward(x);
      const HostTensor dx = bound.backward(x, y, fixture_tensor(fx, name + ".dy"));
      auto mismatch = [&](const std::string& key, const HostTensor& got) {
        return test::first_mismatch(got, fixture_tensor(fx, name + "." + key), 1e-5, 1e-5);
      };
      EXPECT_EQ(mismatch("y", y), "") << at;
      EXPECT_EQ(mismatch("dx", dx), "") << at;
      if (affine) {
        EXPECT_EQ(mismatch("dweight", bound.grads()[0]), "") << at;
        EXPECT_EQ(mismatch("dbias", bound.grads()[1]), "") << at;
      }
      layer->set_training(false);  // the same statistics in evaluation
      EXPECT_EQ(mismatch("y", bound.forward(x)), "") << at << " (evaluation)";
    }
}

TEST(GroupNorm, MatchesFiniteDifferences) {
  Rng rng(11);
  GroupNorm groups("gn", GroupNorm::Kind::kGroup, 3, 6, 1e-5, true);
  const Shape maps{3, 6, 4, 3};
  EXPECT_EQ(test::gradient_check(groups, maps, test::random_tensor(rng, maps, -2.0f, 2.0f), 3, 1e-2,
                                 2e-4, 2e-3),
            "");
  GroupNorm features("gn", GroupNorm::Kind::kGroup, 2, 8, 1e-5, true);  // (N, C)
  const Shape flat{4, 8};
  EXPECT_EQ(test::gradient_check(features, flat, test::random_tensor(rng, flat, -2.0f, 2.0f), 4,
                                 1e-2, 2e-4, 2e-3),
            "");
  GroupNorm layer("ln", GroupNorm::Kind::kLayer, 1, 7, 1e-5, true);
  const Shape ln_in{3, 7};
  EXPECT_EQ(test::gradient_check(layer, ln_in, test::random_tensor(rng, ln_in, -2.0f, 2.0f), 6,
                                 1e-2, 2e-4, 2e-3),
            "");
  GroupNorm instance("in", GroupNorm::Kind::kInstance, 4, 4, 1e-5, false);
  const Shape planes{2, 4, 3, 5};
  EXPECT_EQ(test::gradient_check(instance, planes, test::random_tensor(rng, planes, -2.0f, 2.0f), 5,
                                 1e-2, 2e-4, 2e-3),
            "");
}

// Unlike BatchNorm, an image's output does not depend on the rest of its
// batch: each image of a batch of 5 comes out as it does alone.
TEST(GroupNorm, AnImageComesOutAsItDoesAlone) {
  Rng rng(12);
  const Shape batch{5, 8, 3, 4}, one{1, 8, 3, 4};
  const HostTensor x = test::random_tensor(rng, batch, -3.0f, 3.0f);
  Context ctx(Device::CPU);
  GroupNorm gn("gn", GroupNorm::Kind::kGroup, 4, 8, 1e-5, true);
  test::LayerHarness together(ctx, gn, batch);
  const HostTensor y = together.forward(x);
  GroupNorm single_gn("gn", GroupNorm::Kind::kGroup, 4, 8, 1e-5, true);
  test::LayerHarness alone(ctx, single_gn, one);
  const auto per_image = static_cast<size_t>(one.numel());
  for (size_t i = 0; i < 5; ++i) {
    HostTensor xi(one), want(one);
    std::copy_n(x.values.begin() + static_cast<std::ptrdiff_t>(i * per_image), per_image,
                xi.values.begin());
    std::copy_n(y.values.begin() + static_cast<std::ptrdiff_t>(i * per_image), per_image,
                want.values.begin());
    EXPECT_EQ(alone.forward(xi).values, want.values) << "image " << i;
  }
}

// A small CNN with GroupNorm after each convolution (the batch-size-free
// alternative to BatchNorm), InstanceNorm2d, and LayerNorm before the head.
nlohmann::json gn_network() {
  return nlohmann::json::parse(R"({
    "name": "GnNet", "input": [3, 8, 8], "layers": [
      {"type": "conv2d", "name": "conv1", "in_channels": 3, "out_channels": 8, "kernel_size": 3,
       "padding": 1, "bias": false},
      {"type": "groupnorm", "name": "gn1", "num_groups": 4, "num_channels": 8},
      {"type": "relu", "name": "relu1"},
      {"type": "conv2d", "name": "conv2", "in_channels": 8, "out_channels": 6, "kernel_size": 3},
      {"type": "instancenorm2d", "name": "in2", "num_features": 6, "affine": true},
      {"type": "relu", "name": "relu2"},
      {"type": "global_avgpool2d", "name": "pool"},
      {"type": "flatten", "name": "flatten"},
      {"type": "linear", "name": "fc0", "in_features": 6, "out_features": 8},
      {"type": "layernorm", "name": "ln", "normalized_shape": 8},
      {"type": "linear", "name": "fc", "in_features": 8, "out_features": 10}]})");
}

TEST(GroupNorm, InANetworkShapesNamesFusionAndRoundTrip) {
  const Network net = Network::from_json(gn_network(), "gn.json");
  EXPECT_EQ(net.summarize(7)[1].output, Shape({7, 8, 8, 8}));
  std::vector<std::string> names;
  for (const auto& p : net.parameters()) names.push_back(p.name);
  EXPECT_EQ(names,
            (std::vector<std::string>{"conv1.weight", "gn1.weight", "gn1.bias", "conv2.weight",
                                      "conv2.bias", "in2.weight", "in2.bias", "fc0.weight",
                                      "fc0.bias", "ln.weight", "ln.bias", "fc.weight", "fc.bias"}));
  EXPECT_TRUE(net.buffers().empty());
  EXPECT_EQ(net.fused_relus(), (std::vector<std::string>{"gn1+relu1", "in2+relu2"}));
  const std::string repr = net.repr();
  EXPECT_NE(repr.find("(gn1): GroupNorm(4, 8, eps=1e-05, affine=True)"), std::string::npos) << repr;
  EXPECT_NE(repr.find("(in2): InstanceNorm2d(6, eps=1e-05, momentum=0.1, affine=True, "
                      "track_running_stats=False)"),
            std::string::npos)
      << repr;
  EXPECT_NE(repr.find("(ln): LayerNorm((8,), eps=1e-05, elementwise_affine=True)"),
            std::string::npos)
      << repr;
  EXPECT_EQ(Network::from_json(net.to_json(), "again.json").repr(), repr);
  // A whole-network finite-difference check, with tanh for the ReLUs (whose
  // kinks would sit inside the differences' step).
  nlohmann::json smooth = gn_network();
  smooth["layers"][2] = {{"type", "tanh"}, {"name", "tanh1"}};
  smooth["layers"][5] = {{"type", "tanh"}, {"name", "tanh2"}};
  Network smooth_net = Network::from_json(smooth, "smooth.json");
  Context ctx(Device::CPU);
  EXPECT_EQ(test::network_gradient_check(ctx, smooth_net, 3, 3, 3e-3), "");
}

TEST(GroupNorm, ConfigChecksNameTheLayerAndWhatWasExpected) {
  using Change = std::pair<int, nlohmann::json>;
  for (const auto& [change, expected] : {
           std::pair{Change{1, {{"type", "groupnorm"}, {"num_groups", 3}, {"num_channels", 8}}},
                     "layer 'gn1' (groupnorm): num_groups 3 must divide num_channels 8"},
           std::pair{Change{1, {{"type", "groupnorm"}, {"num_groups", 4}, {"num_channels", 16}}},
                     "layer 'gn1' (groupnorm): num_channels is 16 but its input has 8 channels "
                     "(shape [1, 8, 8, 8])"},
           std::pair{Change{1, {{"type", "groupnorm"}, {"num_groups", 0}, {"num_channels", 8}}},
                     "layer 'gn1' (groupnorm): num_groups must be >= 1"},
           std::pair{
               Change{1,
                      {{"type", "groupnorm"}, {"num_groups", 4}, {"num_channels", 8}, {"eps", 0}}},
               "layer 'gn1' (groupnorm): eps must be a positive number"},
           std::pair{Change{1, {{"type", "groupnorm"}, {"num_channels", 8}}}, "num_groups"},
           std::pair{Change{1,
                            {{"type", "groupnorm"},
                             {"num_groups", 4},
                             {"num_channels", 8},
                             {"momentum", 0.1}}},
                     "momentum"},
           std::pair{Change{4,
                            {{"type", "instancenorm2d"},
                             {"num_features", 6},
                             {"track_running_stats", true}}},
                     "track_running_stats true is not supported"},
           std::pair{Change{7, {{"type", "instancenorm2d"}, {"num_features", 6}}},
                     "layer 'flatten' (instancenorm2d): needs more than 1 value per channel, got "
                     "input [1, 6, 1, 1]"},
           std::pair{Change{8, {{"type", "instancenorm2d"}, {"num_features", 6}}},
                     "layer 'fc0' (instancenorm2d): expects an input of shape (N, C, H, W), got "
                     "[1, 6]"},
           std::pair{Change{8, {{"type", "groupnorm"}, {"num_groups", 2}, {"num_channels", 4}}},
                     "layer 'fc0' (groupnorm): num_channels is 4 but its input has 6 channels"},
           std::pair{Change{8, {{"type", "layernorm"}, {"normalized_shape", 5}}},
                     "layer 'fc0' (layernorm): normalized_shape is 5 but its input has 6 "
                     "features"},
           std::pair{Change{1, {{"type", "layernorm"}, {"normalized_shape", 8}}},
                     "layer 'gn1' (layernorm): expects an input of shape (N, F), got [1, 8, 8, "
                     "8] (for (N, C, H, W) use groupnorm"},
           std::pair{Change{8, {{"type", "layernorm"}, {"normalized_shape", {6, 1}}}},
                     "key 'normalized_shape' must be the feature count F of an (N, F) input, as "
                     "an integer or [F], got array [6,1]"},
       }) {
    nlohmann::json bad = gn_network();
    auto& layer = bad["layers"][change.first];
    const std::string name = layer["name"];
    layer = change.second;
    layer["name"] = name;
    try {
      Network::from_json(bad, "gn.json");
      ADD_FAILURE() << "no error for " << layer;
    } catch (const ConfigError& e) {
      EXPECT_NE(std::string(e.what()).find(expected), std::string::npos) << e.what();
    }
  }
}

}  // namespace
}  // namespace cnne
