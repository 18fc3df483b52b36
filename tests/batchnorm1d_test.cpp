// batchnorm1d (nn.BatchNorm1d on (N, C), after a linear layer): PyTorch's
// training-mode output, gradients and running statistics and its
// evaluation-mode output (tests/fixtures/layer_parity.safetensors, made by
// tools/make_layer_fixtures.py), finite differences, its place in a network
// (shapes, state_dict names, ReLU fusion) and the config's checks. GPU
// against CPU is in tests/gpu_test.cpp.
#include <gtest/gtest.h>

#include <algorithm>
#include <utility>

#include "engine/config.h"
#include "engine/error.h"
#include "engine/network.h"
#include "engine/safetensors.h"
#include "layers/batchnorm.h"
#include "tests/test_util.h"

namespace cnne {
namespace {

using test::HostTensor;

void copy_into(const Safetensors& fx, const std::string& key, HostTensor& to) {
  const HostTensor want = test::host_tensor(*fx.find(key));
  ASSERT_EQ(want.shape, to.shape) << key;
  std::copy(want.values.begin(), want.values.end(), to.values.begin());
}

std::string mismatch(const Safetensors& fx, const std::string& key, const HostTensor& got) {
  return test::first_mismatch(got, test::host_tensor(*fx.find(key)), 1e-5, 1e-5);
}

TEST(BatchNorm1d, MatchesPyTorchInTrainingAndEvaluationAndPrintsLikeIt) {
  const Safetensors fx = load_safetensors(test::fixtures_dir() + "/layer_parity.safetensors");
  const nlohmann::json norms = nlohmann::json::parse(fx.metadata.at("norms"));
  ASSERT_EQ(norms.size(), 2u);
  for (const int threads : {1, 3})
    for (const auto& [case_name, c] : norms.items()) {
      const std::string name = case_name, at = name + ", " + std::to_string(threads) + " threads";
      std::unique_ptr<Layer> layer = test::layer_from_entry(c[0], "bn");
      EXPECT_EQ(layer->type(), "batchnorm1d");
      EXPECT_EQ(layer->repr(), c[1].get<std::string>()) << at;
      const HostTensor x = test::host_tensor(*fx.find(name + ".x"));
      ASSERT_EQ(x.shape, Shape::of(c[2].get<std::vector<int64_t>>())) << at;
      Context ctx(Device::CPU, threads);
      test::LayerHarness bound(ctx, *layer, x.shape);
      ASSERT_EQ(bound.params().size(), 2u);
      ASSERT_EQ(bound.buffers().size(), 2u);
      copy_into(fx, name + ".weight", bound.params()[0]);
      copy_into(fx, name + ".bias", bound.params()[1]);
      const HostTensor y = bound.forward(x);
      const HostTensor dx = bound.backward(x, y, test::host_tensor(*fx.find(name + ".dy")));
      EXPECT_EQ(mismatch(fx, name + ".y", y), "") << at;
      EXPECT_EQ(mismatch(fx, name + ".dx", dx), "") << at;
      EXPECT_EQ(mismatch(fx, name + ".dweight", bound.grads()[0]), "") << at;
      EXPECT_EQ(mismatch(fx, name + ".dbias", bound.grads()[1]), "") << at;
      EXPECT_EQ(mismatch(fx, name + ".running_mean", bound.buffers()[0]), "") << at;
      EXPECT_EQ(mismatch(fx, name + ".running_var", bound.buffers()[1]), "") << at;
      layer->set_training(false);
      EXPECT_EQ(mismatch(fx, name + ".y_eval", bound.forward(x)), "") << at << " (evaluation)";
    }
}

TEST(BatchNorm1d, MatchesFiniteDifferencesInTrainingMode) {
  BatchNorm bn("bn", BatchNorm::Kind::k1d, 4, 1e-5, 0.1);
  Rng rng(6);
  const Shape in{5, 4};
  EXPECT_EQ(
      test::gradient_check(bn, in, test::random_tensor(rng, in, -2.0f, 2.0f), 3, 1e-2, 2e-4, 2e-3),
      "");
}

// An MLP head with BatchNorm1d between its linear layers, as in PyTorch
// classifiers: shapes, the state_dict names of its parameters and buffers,
// the ReLU after it fused into it, the printout, the round trip.
nlohmann::json mlp_network() {
  return nlohmann::json::parse(R"({
    "name": "Mlp", "input": [3, 8, 8], "layers": [
      {"type": "flatten", "name": "flatten"},
      {"type": "linear", "name": "fc1", "in_features": 192, "out_features": 32, "bias": false},
      {"type": "batchnorm1d", "name": "bn1", "num_features": 32},
      {"type": "relu", "name": "relu1"},
      {"type": "linear", "name": "fc2", "in_features": 32, "out_features": 10}]})");
}

TEST(BatchNorm1d, InANetworkShapesNamesFusionAndRoundTrip) {
  const Network net = Network::from_json(mlp_network(), "mlp.json");
  EXPECT_EQ(net.summarize(7)[2].output, Shape({7, 32}));
  std::vector<std::string> names;
  for (const auto& p : net.parameters()) names.push_back(p.name);
  EXPECT_EQ(names, (std::vector<std::string>{"fc1.weight", "bn1.weight", "bn1.bias", "fc2.weight",
                                             "fc2.bias"}));
  std::vector<std::string> buffers;
  for (const auto& b : net.buffers()) buffers.push_back(b.name);
  EXPECT_EQ(buffers, (std::vector<std::string>{"bn1.running_mean", "bn1.running_var"}));
  EXPECT_EQ(net.fused_relus(), std::vector<std::string>{"bn1+relu1"});
  EXPECT_NE(net.repr().find("(bn1): BatchNorm1d(32, eps=1e-05, momentum=0.1, affine=True, "
                            "track_running_stats=True)"),
            std::string::npos)
      << net.repr();
  EXPECT_EQ(net.to_json()["layers"][2]["type"], "batchnorm1d");
  EXPECT_EQ(Network::from_json(net.to_json(), "again.json").repr(), net.repr());
  // A whole-network finite-difference check through it (batch statistics of
  // 6), with a tanh after it (a ReLU's kink would sit inside the differences'
  // step) and a step of 3e-3: normalizing over 6 values curves the loss enough
  // that 1e-2's third-order error passes the tolerance (1.6% on fc1.weight[77]).
  nlohmann::json smooth = mlp_network();
  smooth["layers"][3] = {{"type", "tanh"}, {"name", "tanh1"}};
  Network smooth_net = Network::from_json(smooth, "smooth.json");
  Context ctx(Device::CPU);
  EXPECT_EQ(test::network_gradient_check(ctx, smooth_net, 6, 3, 3e-3), "");
}

TEST(BatchNorm1d, ConfigChecksNameTheLayerAndTheShapes) {
  for (const auto& [change, expected] :
       {std::pair{std::pair{2, nlohmann::json{{"type", "batchnorm2d"}, {"num_features", 32}}},
                  "layer 'bn1' (batchnorm2d): expects an input of shape (N, C, H, W), got [1, 32] "
                  "(batchnorm1d takes (N, C))"},
        std::pair{std::pair{2, nlohmann::json{{"type", "batchnorm1d"}, {"num_features", 16}}},
                  "layer 'bn1' (batchnorm1d): num_features is 16 but its input has 32 features"},
        std::pair{std::pair{0, nlohmann::json{{"type", "batchnorm1d"}, {"num_features", 3}}},
                  "layer 'flatten' (batchnorm1d): expects an input of shape (N, C), got [1, 3, 8, "
                  "8] (batchnorm2d takes (N, C, H, W))"},
        std::pair{
            std::pair{2,
                      nlohmann::json{{"type", "batchnorm1d"}, {"num_features", 32}, {"eps", 1e-6}}},
            "layer 'bn1' (batchnorm1d): eps must be >= 1e-5"}}) {
    nlohmann::json bad = mlp_network();
    auto& layer = bad["layers"][change.first];
    const std::string name = layer["name"];
    layer = change.second;
    layer["name"] = name;
    try {
      Network::from_json(bad, "mlp.json");
      ADD_FAILURE() << "no error for " << layer;
    } catch (const ConfigError& e) {
      EXPECT_NE(std::string(e.what()).find(expected), std::string::npos) << e.what();
    }
  }
  // training on a batch of one: PyTorch's "Expected more than 1 value per channel"
  Context ctx(Device::CPU);
  BatchNorm bn("bn", BatchNorm::Kind::k1d, 3, 1e-5, 0.1);
  test::LayerHarness h(ctx, bn, Shape{1, 3});
  try {
    h.forward(HostTensor(Shape{1, 3}, 1.0f));
    ADD_FAILURE() << "a batch of 1 trained";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("layer 'bn' (batchnorm1d): training needs more than 1 "
                                         "value per feature, got input [1, 3] (a batch of 1"),
              std::string::npos)
        << e.what();
  }
}

}  // namespace
}  // namespace cnne
