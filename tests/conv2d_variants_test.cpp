// The conv2d variants beyond the tutorial's: grouped and depthwise ("groups",
// nn.Conv2d(groups=G)), dilated ("dilation") and string padding ("same",
// "valid"). PyTorch's outputs and gradients (tests/fixtures/layer_parity.safetensors,
// made by tools/make_layer_fixtures.py) and printouts, init, parameter counts,
// output sizes, the config's checks and the fused step's refusals. The
// finite differences are in tests/gradient_check_test.cpp, GPU against CPU in
// tests/gpu_test.cpp, cuDNN's descriptors in tests/cudnn_descriptors_test.cpp.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <tuple>

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

TEST(Conv2dVariants, MatchPyTorchForwardAndBackwardAndPrintLikeIt) {
  const Safetensors fx = load_safetensors(test::fixtures_dir() + "/layer_parity.safetensors");
  const nlohmann::json convs = nlohmann::json::parse(fx.metadata.at("convs"));
  ASSERT_EQ(convs.size(), 8u);      // 4 grouped, 3 dilated ("same" among them), "valid"
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

// PyTorch's output size, (in + 2 pad - dilation (kernel - 1) - 1) / stride + 1,
// and none (0) when the window is wider than the padded input: C++'s division
// would round -1 / 2 up to 0 and make it 1.
TEST(DilatedConv, WindowOutputSizeIsPyTorchsAndZeroForAWindowWiderThanTheInput) {
  EXPECT_EQ(window_output_size(32, 3, 1, 1), 32);
  EXPECT_EQ(window_output_size(32, 3, 1, 2, 2), 32);  // "same" at dilation 2
  EXPECT_EQ(window_output_size(11, 3, 2, 1, 2), 5);   // (11 + 2 - 5) / 2 + 1
  EXPECT_EQ(window_output_size(9, 3, 1, 0, 4), 1);    // a 9-pixel window on 9 pixels
  EXPECT_EQ(window_output_size(8, 3, 1, 0, 4), 0);    // ... on 8
  EXPECT_EQ(window_output_size(2, 3, 2, 0), 0);       // was 1 before the window check
  EXPECT_EQ(window_output_size(2, 3, 2, 1), 1);
}

// The tutorial's conv2 dilated: 5x5 taps 2 apart span 9 pixels, so its 14x14
// input gives 6x6 and fc1 must take 16 * 3 * 3 after the pool; the weights,
// init and parameter count are the undilated conv's, the FLOPs those of the
// smaller output; config round trip and printout.
TEST(DilatedConv, ShapesCountsPrintoutAndRoundTrip) {
  nlohmann::json j = parse_json_text(Config::embedded_default(), "simplecnn.json");
  auto& layers = j["network"]["layers"];
  layers[3]["dilation"] = 2;
  for (auto& layer : layers)
    if (layer["name"] == "fc1") layer["in_features"] = 16 * 3 * 3;
  const Network net = Network::from_json(Config::from_json(j, "x.json").network, "x.json");
  const auto rows = net.summarize(1);
  EXPECT_EQ(rows[3].output, Shape({1, 16, 6, 6}));
  const auto& conv2 = net.parameters()[2];
  EXPECT_EQ(conv2.name, "conv2.weight");
  EXPECT_EQ(conv2.shape, Shape({16, 6, 5, 5}));
  EXPECT_EQ(rows[3].flops, 2 * (16 * 6 * 6) * (6 * 25) + 16 * 6 * 6);
  EXPECT_NE(
      net.repr().find("(conv2): Conv2d(6, 16, kernel_size=(5, 5), stride=(1, 1), dilation=(2, 2))"),
      std::string::npos)
      << net.repr();
  EXPECT_EQ(net.to_json()["layers"][3]["dilation"], nlohmann::json({2, 2}));
  EXPECT_EQ(Network::from_json(net.to_json(), "y.json").repr(), net.repr());

  // "same" keeps the size at any dilation and odd kernel, and stays "same"
  // in the printout and the JSON, as nn.Conv2d(padding='same') does.
  nlohmann::json same = parse_json_text(Config::embedded_default(), "simplecnn.json");
  same["network"]["layers"][0]["padding"] = "same";
  same["network"]["layers"][0]["dilation"] = {3, 1};
  same["network"]["layers"][0]["kernel_size"] = {3, 5};
  for (auto& layer : same["network"]["layers"])
    if (layer["name"] == "fc1") layer["in_features"] = 16 * 6 * 6;
  const Network padded = Network::from_json(Config::from_json(same, "s.json").network, "s.json");
  EXPECT_EQ(padded.summarize(1)[0].output, Shape({1, 6, 32, 32}));
  const auto& conv1 = static_cast<const Conv2d&>(padded.layer(0)).options();
  EXPECT_EQ(conv1.params.pad_h, 3);
  EXPECT_EQ(conv1.params.pad_w, 2);
  EXPECT_NE(padded.repr().find("(conv1): Conv2d(3, 6, kernel_size=(3, 5), stride=(1, 1), "
                               "padding=same, dilation=(3, 1))"),
            std::string::npos)
      << padded.repr();
  EXPECT_EQ(padded.to_json()["layers"][0]["padding"], "same");
  EXPECT_EQ(Network::from_json(padded.to_json(), "z.json").repr(), padded.repr());
  // undilated configs keep their JSON
  const Network plain = Network::from_json(
      Config::from_json(parse_json_text(Config::embedded_default(), "p.json"), "p.json").network,
      "p.json");
  EXPECT_FALSE(plain.to_json()["layers"][3].contains("dilation"));
}

TEST(DilatedConv, ConfigChecksAndTheFusedStepsRefusal) {
  const nlohmann::json j = parse_json_text(Config::embedded_default(), "simplecnn.json");
  for (const auto& [key, value, expected] :
       {std::tuple{"dilation", nlohmann::json(0), "layer 'conv2' (conv2d): dilation must be >= 1"},
        std::tuple{"dilation", nlohmann::json({2, -1}), "dilation must be >= 1"},
        std::tuple{"dilation", nlohmann::json(70000),
                   "kernel_size, stride, padding and dilation must be <= 65536"},
        std::tuple{"dilation", nlohmann::json("2"), "key 'dilation' must be an integer"},
        // 5 taps 4 apart span 17 pixels, more than conv2's 14x14 input
        std::tuple{"dilation", nlohmann::json(4),
                   "layer 'conv2' (conv2d): input 14x14 with padding (0, 0) is smaller than the "
                   "kernel (5, 5) at dilation (4, 4) (a window of (17, 17) pixels)"},
        std::tuple{"padding", nlohmann::json("full"),
                   "key 'padding' must be an int, [h, w], \"same\" or \"valid\", got \"full\""},
        std::tuple{"padding", nlohmann::json("SAME"), "got \"SAME\""}}) {
    nlohmann::json bad = j;
    bad["network"]["layers"][3][key] = value;
    try {
      Network::from_json(Config::from_json(bad, "x.json").network, "x.json");
      ADD_FAILURE() << "no error for " << key << " " << value;
    } catch (const ConfigError& e) {
      EXPECT_NE(std::string(e.what()).find(expected), std::string::npos) << e.what();
    }
  }
  // "same" needs stride 1 and an even total padding
  for (const auto& [stride, kernel, dilation, expected] :
       {std::tuple{2, 5, 1, "key 'padding' \"same\" needs stride 1 (as in PyTorch)"},
        std::tuple{1, 4, 1,
                   "key 'padding' \"same\" with kernel_size 4 and dilation 1 pads unevenly (3 "
                   "pixels in all); cnnengine pads both sides equally, so dilation * "
                   "(kernel_size - 1) must be even"},
        std::tuple{1, 2, 3, "kernel_size 2 and dilation 3 pads unevenly"}}) {
    nlohmann::json bad = j;
    auto& conv2 = bad["network"]["layers"][3];
    conv2["padding"] = "same";
    conv2["stride"] = stride;
    conv2["kernel_size"] = kernel;
    conv2["dilation"] = dilation;
    try {
      Network::from_json(Config::from_json(bad, "x.json").network, "x.json");
      ADD_FAILURE() << "no error for stride " << stride << " kernel " << kernel;
    } catch (const ConfigError& e) {
      EXPECT_NE(std::string(e.what()).find(expected), std::string::npos) << e.what();
    }
  }
  // an even kernel at an even dilation pads evenly: accepted ("same" keeps 14x14)
  nlohmann::json even = j;
  auto& conv2 = even["network"]["layers"][3];
  conv2["padding"] = "same";
  conv2["kernel_size"] = 4;
  conv2["dilation"] = 2;
  for (auto& layer : even["network"]["layers"])
    if (layer["name"] == "fc1") layer["in_features"] = 16 * 7 * 7;
  const Config c = Config::from_json(even, "x.json");
  const Network net = Network::from_json(c.network, "x.json");
  EXPECT_EQ(net.summarize(1)[3].output, Shape({1, 16, 14, 14}));
  EXPECT_EQ(FusedStep::unsupported_reason(net, c),
            "layer 'conv2' (conv2d) is a dilated convolution; it takes dilation 1 only");
}

// A pooling window wider than its padded input is an error now (it was
// accepted with an output of 1 when the stride was above 1), as in PyTorch.
TEST(DilatedConv, APoolWindowWiderThanItsInputIsAnError) {
  nlohmann::json j = parse_json_text(Config::embedded_default(), "simplecnn.json");
  auto& layers = j["network"]["layers"];
  // conv1 -> 28x28, pool -> 14x14, conv2 at stride 7 -> 2x2, then the pool: kernel 3, stride 2
  layers[3]["stride"] = 7;
  layers[5]["kernel_size"] = 3;
  try {
    Network::from_json(Config::from_json(j, "x.json").network, "x.json");
    ADD_FAILURE() << "a 3x3 pool on a 2x2 input was accepted";
  } catch (const ConfigError& e) {
    EXPECT_NE(std::string(e.what()).find("input 2x2 is smaller than the pooling window"),
              std::string::npos)
        << e.what();
  }
}

}  // namespace
}  // namespace cnne
