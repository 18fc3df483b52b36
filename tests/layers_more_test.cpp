// The layers beyond the tutorial (BatchNorm2d, Dropout, AvgPool2d,
// GlobalAvgPool2d, Add): finite differences, hand-computed cases, and a
// residual network checked end to end by finite differences.
#include <gtest/gtest.h>

#include <cmath>

#include "engine/error.h"
#include "engine/network.h"
#include "engine/ops.h"
#include "engine/safetensors.h"
#include "layers/batchnorm.h"
#include "layers/dropout.h"
#include "layers/dropout_mask.h"
#include "layers/global_avgpool2d.h"
#include "layers/pool2d.h"
#include "tests/test_util.h"

namespace cnne {
namespace {

using test::HostTensor;

TEST(BatchNormGradient, MatchesFiniteDifferencesInTrainingMode) {
  BatchNorm bn("bn", BatchNorm::Kind::k2d, 3, 1e-5, 0.1);
  Rng rng(4);
  const Shape in{4, 3, 3, 2};
  // Gamma and beta start at 1 and 0; the check perturbs them too.
  EXPECT_EQ(
      test::gradient_check(bn, in, test::random_tensor(rng, in, -2.0f, 2.0f), 5, 1e-2, 2e-4, 2e-3),
      "");
}

TEST(AvgPoolGradient, MatchesFiniteDifferences) {
  for (Pool2dParams p : {Pool2dParams{2, 2, 2, 2, 0, 0}, Pool2dParams{3, 3, 2, 2, 1, 1},
                         Pool2dParams{3, 2, 1, 2, 1, 1}}) {
    AvgPool2d pool("pool", p);
    Rng rng(8);
    const Shape in{2, 2, 7, 6};
    EXPECT_EQ(test::gradient_check(pool, in, test::random_tensor(rng, in), 6), "") << pool.repr();
  }
}

TEST(GlobalAvgPoolGradient, MatchesFiniteDifferences) {
  GlobalAvgPool2d pool("gap");
  Rng rng(2);
  const Shape in{2, 3, 4, 5};
  EXPECT_EQ(test::gradient_check(pool, in, test::random_tensor(rng, in), 6), "");
}

TEST(DropoutGradient, MatchesFiniteDifferencesForAFixedMask) {
  Dropout drop("drop", 0.3);
  const uint64_t key = 77;
  drop.bind_step_key(&key, 1);
  Rng rng(2);
  const Shape in{3, 10};
  EXPECT_EQ(test::gradient_check(drop, in, test::random_tensor(rng, in), 6), "");
}

TEST(DropoutCases, ScaleIsPyTorchsInBothDirections) {
  // 1 / float(1 - p): exactly 2.5, 5 and 10 where 1.0f / (1.0f - p) is not
  EXPECT_EQ(dropout_keep_scale(0.6), 2.5f);
  EXPECT_EQ(dropout_keep_scale(0.8), 5.0f);
  EXPECT_EQ(dropout_keep_scale(0.9), 10.0f);
  Context ctx(Device::CPU);
  Dropout drop("drop", 0.6);
  const uint64_t key = 3;
  drop.bind_step_key(&key, 1);
  test::LayerHarness h(ctx, drop, Shape{4, 50});
  HostTensor x(Shape{4, 50}, 1.0f), dy(Shape{4, 50}, 1.0f);
  const HostTensor y = h.forward(x);
  const HostTensor dx = h.backward(x, y, dy);
  for (size_t i = 0; i < y.values.size(); ++i) {
    ASSERT_TRUE(y[i] == 0.0f || y[i] == 2.5f) << y[i];
    ASSERT_EQ(dx[i], y[i]);  // the same scale and mask backward
  }
}

// nn.Dropout2d: whole (n, c) planes zeroed at rate p, the rest scaled; the
// backward uses the same mask; the evaluation mode is the identity; the
// printout, JSON and shape checks are its own.
TEST(DropoutCases, Dropout2dDropsWholeChannels) {
  Context ctx(Device::CPU);
  Dropout drop("drop", 0.3, true);
  const uint64_t key = 11;
  drop.bind_step_key(&key, 2);
  const Shape in{16, 64, 3, 5};  // 1024 planes of 15 pixels
  test::LayerHarness h(ctx, drop, in);
  Rng rng(5);
  const HostTensor x = test::random_tensor(rng, in, 0.5f, 1.5f);  // never 0
  const HostTensor dy = test::random_tensor(rng, in);
  const HostTensor y = h.forward(x);
  const HostTensor dx = h.backward(x, y, dy);
  const float scale = dropout_keep_scale(0.3);
  int64_t dropped = 0;
  for (int64_t plane = 0; plane < 16 * 64; ++plane) {
    const bool kept = y[static_cast<size_t>(plane * 15)] != 0.0f;
    dropped += !kept;
    for (int64_t i = plane * 15; i < (plane + 1) * 15; ++i) {
      const auto at = static_cast<size_t>(i);
      ASSERT_EQ(y[at], kept ? x[at] * 1.0f * scale : 0.0f) << "plane " << plane;
      ASSERT_EQ(dx[at], kept ? dy[at] * 1.0f * scale : 0.0f) << "plane " << plane;
    }
  }
  EXPECT_NEAR(static_cast<double>(dropped) / 1024.0, 0.3, 0.045);  // 3 sigma
  // Another image's planes are drawn apart from the first's: not one pattern for the batch.
  bool same = true;
  for (int64_t c = 0; c < 64; ++c)
    same = same &&
           (y[static_cast<size_t>(c * 15)] == 0) == (y[static_cast<size_t>((64 + c) * 15)] == 0);
  EXPECT_FALSE(same);
  EXPECT_EQ(drop.repr(), "Dropout2d(p=0.3, inplace=False)");
  EXPECT_EQ(drop.to_json()["type"], "dropout2d");
  EXPECT_EQ(drop.output_shape(in), in);
  try {
    drop.output_shape(Shape{4, 10});
    ADD_FAILURE() << "dropout2d took (N, C)";
  } catch (const ConfigError& e) {
    EXPECT_NE(std::string(e.what()).find("layer 'drop' (dropout2d): expects (N, C, H, W)"),
              std::string::npos)
        << e.what();
  }
  drop.set_training(false);
  test::LayerHarness eval(ctx, drop, in);
  EXPECT_EQ(eval.forward(x).values, x.values);
}

TEST(DropoutCases, MaskRateScaleAndEvaluationMode) {
  Context ctx(Device::CPU);
  const int64_t n = 20000;
  HostTensor x(Shape{n}, 1.0f), y(Shape{n}), mask(Shape{n}), y2(Shape{n}), mask2(Shape{n});
  const uint64_t key5 = 5, key6 = 6;
  ops::dropout_forward(ctx, 0.25f, dropout_keep_scale(0.25), &key5, 0, false, x.view(), mask.view(),
                       y.view());
  int64_t dropped = 0;
  for (size_t i = 0; i < y.values.size(); ++i) {
    const float v = y.values[i];
    ASSERT_TRUE(v == 0.0f || std::fabs(v - 1.0f / 0.75f) < 1e-6f) << v;
    ASSERT_EQ(mask.values[i], v == 0.0f ? 0.0f : 1.0f);  // 0/1: exact in 16 bits too
    dropped += v == 0.0f;
  }
  EXPECT_NEAR(static_cast<double>(dropped) / n, 0.25, 0.015);
  ops::dropout_forward(ctx, 0.25f, dropout_keep_scale(0.25), &key5, 0, false, x.view(),
                       mask2.view(), y2.view());
  EXPECT_EQ(y.values, y2.values);  // same key, same mask
  ops::dropout_forward(ctx, 0.25f, dropout_keep_scale(0.25), &key6, 0, false, x.view(),
                       mask2.view(), y2.view());
  EXPECT_NE(y.values, y2.values);

  Dropout drop("drop", 0.5);
  drop.set_training(false);
  test::LayerHarness h(ctx, drop, Shape{2, 3});
  Rng rng(1);
  const HostTensor in = test::random_tensor(rng, Shape{2, 3});
  EXPECT_EQ(h.forward(in).values, in.values);
}

TEST(BatchNormCases, RunningStatisticsAndEvaluationMode) {
  Context ctx(Device::CPU);
  BatchNorm bn("bn", BatchNorm::Kind::k2d, 1, 1e-5, 0.1);
  test::LayerHarness h(ctx, bn, Shape{2, 1, 1, 2});
  HostTensor running_mean(Shape{1}, 0.0f), running_var(Shape{1}, 1.0f), save_mean(Shape{1}),
      save_invstd(Shape{1});
  bn.bind_state({running_mean.view(), running_var.view()}, {save_mean.view(), save_invstd.view()});
  HostTensor x(Shape{2, 1, 1, 2});
  x.values = {1, 2, 3, 4};  // mean 2.5, biased var 1.25, unbiased 5/3
  const HostTensor y = h.forward(x);
  EXPECT_NEAR(running_mean[0], 0.25, 1e-6);
  EXPECT_NEAR(running_var[0], 0.9 + 0.1 * 5.0 / 3.0, 1e-6);
  EXPECT_NEAR(y[0], (1 - 2.5) / std::sqrt(1.25 + 1e-5), 1e-5);
  EXPECT_EQ(bn.counters()[0].second, 0);  // the trainer counts steps, not forward
  bn.advance_counters(1);
  EXPECT_EQ(bn.counters()[0].second, 1);
  bn.set_training(false);  // now the running statistics normalize
  const HostTensor z = h.forward(x);
  EXPECT_NEAR(z[3], (4 - 0.25) / std::sqrt(running_var[0] + 1e-5), 1e-5);
}

TEST(BatchNormCases, RefusesAnEpsCudnnWouldChangeAndSingleValueBatches) {
  EXPECT_THROW(BatchNorm("bn", BatchNorm::Kind::k2d, 4, 1e-6, 0.1), ConfigError);
  try {
    BatchNorm("bn1", BatchNorm::Kind::k2d, 4, 1e-6, 0.1);
  } catch (const ConfigError& e) {
    EXPECT_NE(std::string(e.what()).find("layer 'bn1' (batchnorm2d): eps must be >= 1e-5"),
              std::string::npos)
        << e.what();
  }
  Context ctx(Device::CPU);
  BatchNorm bn("bn", BatchNorm::Kind::k2d, 1, 1e-5, 0.1);
  test::LayerHarness h(ctx, bn, Shape{1, 1, 1, 1});
  HostTensor running_mean(Shape{1}, 0.0f), running_var(Shape{1}, 1.0f), save_mean(Shape{1}),
      save_invstd(Shape{1});
  bn.bind_state({running_mean.view(), running_var.view()}, {save_mean.view(), save_invstd.view()});
  HostTensor x(Shape{1, 1, 1, 1}, 3.0f);
  try {
    h.forward(x);
    ADD_FAILURE() << "a single value per channel trained";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("training needs more than 1 value per channel, got "
                                         "input [1, 1, 1, 1]"),
              std::string::npos)
        << e.what();
  }
  bn.set_training(false);  // evaluation uses the running statistics: fine
  EXPECT_NEAR(h.forward(x)[0], 3.0f / std::sqrt(1.0f + 1e-5f), 1e-5);
}

TEST(AvgPoolCases, PaddingCountsInTheDivisor) {
  Context ctx(Device::CPU);
  HostTensor x(Shape{1, 1, 2, 2});
  x.values = {1, 2, 3, 4};
  HostTensor y(Shape{1, 1, 2, 2});
  ops::avgpool2d_forward(ctx, Pool2dParams{2, 2, 1, 1, 1, 1}, x.view(), y.view());
  // Window at (-1,-1) holds only x[0][0] = 1: 1/4 (count_include_pad).
  EXPECT_FLOAT_EQ(y[0], 0.25f);
  EXPECT_FLOAT_EQ(y[3], 2.5f);  // the full window at (0, 0): 10/4
}

// count_include_pad false (nn.AvgPool2d(count_include_pad=False)): PyTorch's
// outputs and gradients (tests/fixtures/layer_parity.safetensors, made by
// tools/make_layer_fixtures.py), with the default beside it, the printout,
// the JSON round trip and the key refused on max pooling.
TEST(AvgPoolCases, ExcludingThePaddingMatchesPyTorch) {
  const Safetensors fx = load_safetensors(test::fixtures_dir() + "/layer_parity.safetensors");
  const nlohmann::json pools = nlohmann::json::parse(fx.metadata.at("pools"));
  ASSERT_EQ(pools.size(), 3u);
  for (const auto& [case_name, c] : pools.items()) {
    const std::string name = case_name;
    std::unique_ptr<Layer> layer = test::layer_from_entry(c[0], "pool");
    EXPECT_EQ(layer->repr(), c[1].get<std::string>()) << name;
    EXPECT_EQ(static_cast<const AvgPool2d&>(*layer).params().count_include_pad,
              c[0].value("count_include_pad", true))
        << name;
    const HostTensor x = test::host_tensor(*fx.find(name + ".x"));
    Context ctx(Device::CPU);
    test::LayerHarness bound(ctx, *layer, x.shape);
    const HostTensor y = bound.forward(x);
    const HostTensor dx = bound.backward(x, y, test::host_tensor(*fx.find(name + ".dy")));
    EXPECT_EQ(test::first_mismatch(y, test::host_tensor(*fx.find(name + ".y")), 1e-6, 1e-5), "")
        << name << " y";
    EXPECT_EQ(test::first_mismatch(dx, test::host_tensor(*fx.find(name + ".dx")), 1e-6, 1e-5), "")
        << name << " dx";
    const nlohmann::json j = layer->to_json();
    EXPECT_EQ(j.contains("count_include_pad"), !c[0].value("count_include_pad", true)) << j;
  }
  nlohmann::json max = {{"type", "maxpool2d"}, {"kernel_size", 2}, {"count_include_pad", false}};
  try {
    test::layer_from_entry(max, "pool");
    ADD_FAILURE() << "maxpool2d took count_include_pad";
  } catch (const ConfigError& e) {
    EXPECT_NE(std::string(e.what()).find("unknown key 'count_include_pad'"), std::string::npos)
        << e.what();
  }
}

// A residual network: node "a" feeds both "b" and the join, so its gradient
// is the sum of two contributions; checked against central differences of
// L = dot(logits, r) over every parameter element. No ReLU here: BatchNorm
// centres its outputs on zero, so a +-0.01 nudge of a weight moves many of them
// across ReLU's kink and the differences stop measuring the derivative (ReLU
// has its own check in gradient_check_test.cpp).
TEST(ResidualNetwork, GradientsMatchFiniteDifferences) {
  const nlohmann::json config = nlohmann::json::parse(R"({
    "name": "Tiny", "input": [2, 5, 5],
    "layers": [
      {"type": "conv2d", "name": "a", "in_channels": 2, "out_channels": 3, "kernel_size": 3, "padding": 1},
      {"type": "batchnorm2d", "name": "bn", "num_features": 3},
      {"type": "conv2d", "name": "b", "in_channels": 3, "out_channels": 3, "kernel_size": 3, "padding": 1},
      {"type": "add", "name": "join", "inputs": ["b", "a"]},
      {"type": "avgpool2d", "name": "pool", "kernel_size": 2, "stride": 1},
      {"type": "global_avgpool2d", "name": "gap"},
      {"type": "flatten", "name": "flat"},
      {"type": "linear", "name": "fc", "in_features": 3, "out_features": 4}
    ]})");
  Context ctx(Device::CPU);
  Network net = Network::from_json(config, "tiny.json");
  EXPECT_EQ(test::network_gradient_check(ctx, net, 3, 9), "");
}

TEST(ResidualNetwork, ConfigErrorsNameTheInput) {
  auto build = [](const char* layers) {
    return Network::from_json(
        nlohmann::json::parse(std::string(R"({"input": [1, 4, 4], "layers": )") + layers + "}"),
        "g.json");
  };
  EXPECT_THROW(
      {
        try {
          build(R"([{"type": "add", "name": "j", "inputs": ["input", "later"]}])");
        } catch (const ConfigError& e) {
          EXPECT_NE(std::string(e.what()).find("names 'later', which is not \"input\" or a layer "
                                               "defined before this one"),
                    std::string::npos)
              << e.what();
          throw;
        }
      },
      ConfigError);
  EXPECT_THROW(build(R"([{"type": "add", "name": "j"}])"), ConfigError);  // one input, takes two
  EXPECT_THROW(build(R"([{"type": "flatten", "name": "input"}])"), ConfigError);  // reserved name
}

}  // namespace
}  // namespace cnne
