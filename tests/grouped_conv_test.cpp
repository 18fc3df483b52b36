// Grouped and depthwise convolution (conv2d's "groups", nn.Conv2d(groups=G)):
// PyTorch's outputs and gradients (tests/fixtures/layer_parity.safetensors,
// made by tools/make_layer_fixtures.py), its printout and init, the
// parameter count, the config's checks and the fused step's refusal. The
// finite differences are in tests/gradient_check_test.cpp, GPU against CPU in
// tests/gpu_test.cpp, cuDNN's descriptors in tests/cudnn_descriptors_test.cpp.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>

#include "engine/config.h"
#include "engine/error.h"
#include "engine/fused_step.h"
#include "engine/network.h"
#include "engine/safetensors.h"
#include "layers/conv2d.h"
#include "tests/test_util.h"

namespace cnne {
namespace {

using test::HostTensor;

TEST(GroupedConv, MatchesPyTorchForwardAndBackwardAndPrintsLikeIt) {
  const Safetensors fx = load_safetensors(test::fixtures_dir() + "/layer_parity.safetensors");
  const nlohmann::json convs = nlohmann::json::parse(fx.metadata.at("convs"));
  ASSERT_EQ(convs.size(), 4u);
  for (const int threads : {1, 3})  // 3: the batch split over threads, partial dw merged
    for (const auto& [case_name, c] : convs.items()) {
      const std::string name = case_name, at = name + ", " + std::to_string(threads) + " threads";
      std::unique_ptr<Layer> layer = test::layer_from_entry(c[0], "conv");
      EXPECT_EQ(layer->repr(), c[1].get<std::string>()) << at;
      const HostTensor x = test::host_tensor(*fx.find(name + ".x"));
      ASSERT_EQ(x.shape, Shape::of(c[2].get<std::vector<int64_t>>())) << at;
      Context ctx(Device::CPU, threads);
      test::LayerHarness bound(ctx, *layer, x.shape);
      const bool bias = fx.find(name + ".bias") != nullptr;
      ASSERT_EQ(bound.params().size(), bias ? 2u : 1u) << at;
      // PyTorch's weights into the memory the layer is bound to (the shapes must agree)
      for (size_t i = 0; i < bound.params().size(); ++i) {
        const HostTensor want = test::host_tensor(*fx.find(name + (i == 0 ? ".weight" : ".bias")));
        ASSERT_EQ(want.shape, bound.params()[i].shape) << at;
        std::copy(want.values.begin(), want.values.end(), bound.params()[i].values.begin());
      }
      const HostTensor y = bound.forward(x);
      const HostTensor dx = bound.backward(x, y, test::host_tensor(*fx.find(name + ".dy")));
      EXPECT_EQ(test::first_mismatch(y, test::host_tensor(*fx.find(name + ".y")), 1e-5, 1e-5), "")
          << at << " y";
      EXPECT_EQ(test::first_mismatch(dx, test::host_tensor(*fx.find(name + ".dx")), 1e-5, 1e-5), "")
          << at << " dx";
      EXPECT_EQ(test::first_mismatch(bound.grads()[0],
                                     test::host_tensor(*fx.find(name + ".dweight")), 1e-5, 1e-5),
                "")
          << at << " dweight";
      if (bias) {
        EXPECT_EQ(test::first_mismatch(bound.grads()[1],
                                       test::host_tensor(*fx.find(name + ".dbias")), 1e-5, 1e-5),
                  "")
            << at << " dbias";
      }
    }
}

// The tutorial with conv2 in 2 groups: its weight (16, 3, 5, 5), PyTorch's
// init bound 1/sqrt(3 * 5 * 5), the parameter count and FLOPs halved for it,
// the config round trip.
TEST(GroupedConv, ShapesInitCountsAndRoundTrip) {
  nlohmann::json j = parse_json_text(Config::embedded_default(), "simplecnn.json");
  j["network"]["layers"][3]["groups"] = 2;
  const Config c = Config::from_json(j, "x.json");
  const Network net = Network::from_json(c.network, "x.json");
  const Network plain = Network::from_json(
      Config::from_json(parse_json_text(Config::embedded_default(), "s.json"), "s.json").network,
      "s.json");
  EXPECT_EQ(plain.parameter_count() - net.parameter_count(), 16 * 3 * 25);  // 2416 -> 1216
  const auto& conv2 = net.parameters()[2];
  EXPECT_EQ(conv2.name, "conv2.weight");
  EXPECT_EQ(conv2.shape, Shape({16, 3, 5, 5}));
  EXPECT_NE(net.repr().find("(conv2): Conv2d(6, 16, kernel_size=(5, 5), stride=(1, 1), groups=2)"),
            std::string::npos)
      << net.repr();
  const int64_t bias_flops = 16 * 10 * 10;  // added once either way
  EXPECT_EQ((net.summarize(1)[3].flops - bias_flops) * 2, plain.summarize(1)[3].flops - bias_flops);
  EXPECT_EQ(net.to_json()["layers"][3]["groups"], 2);
  EXPECT_FALSE(plain.to_json()["layers"][3].contains("groups"));  // older configs unchanged
  EXPECT_EQ(Network::from_json(net.to_json(), "y.json").repr(), net.repr());

  Conv2d::Options o;
  o.in_channels = o.out_channels = 64;
  o.kernel_h = o.kernel_w = 3;
  o.params.groups = 64;  // depthwise: fan_in 9
  Conv2d depthwise("dw", o);
  HostTensor w(Shape{64, 1, 3, 3}), b(Shape{64});
  Rng rng(3);
  std::vector<Tensor> views{w.view(), b.view()};
  depthwise.initialize(rng, views);
  float largest = 0;
  for (float v : w.values) largest = std::max(largest, std::fabs(v));
  EXPECT_LE(largest, 1.0f / 3.0f);
  EXPECT_GT(largest, 0.9f / 3.0f);  // 576 draws of U(-1/3, 1/3) reach past 0.3
}

TEST(GroupedConv, ConfigChecksAndTheFusedStepsRefusal) {
  nlohmann::json j = parse_json_text(Config::embedded_default(), "simplecnn.json");
  for (const auto& [groups, expected] :
       {std::pair{nlohmann::json(4),
                  "layer 'conv2' (conv2d): groups must be >= 1 and divide "
                  "in_channels (6) and out_channels (16), got 4"},
        std::pair{nlohmann::json(0), "groups must be in 1..65536"},
        std::pair{nlohmann::json("2"), "key 'groups' must be an integer"}}) {
    nlohmann::json bad = j;
    bad["network"]["layers"][3]["groups"] = groups;
    try {
      Network::from_json(Config::from_json(bad, "x.json").network, "x.json");
      ADD_FAILURE() << "no error for groups " << groups;
    } catch (const ConfigError& e) {
      EXPECT_NE(std::string(e.what()).find(expected), std::string::npos) << e.what();
    }
  }
  j["network"]["layers"][3]["groups"] = 2;
  const Config c = Config::from_json(j, "x.json");
  const Network net = Network::from_json(c.network, "x.json");
  EXPECT_EQ(FusedStep::unsupported_reason(net, c),
            "layer 'conv2' (conv2d) is a grouped convolution; it takes groups = 1 only");
}

}  // namespace
}  // namespace cnne
