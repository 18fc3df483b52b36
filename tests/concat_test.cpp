// Concat (torch.cat(inputs, dim=1)): the copy op in both layouts and in 16
// bits, the layer's forward and backward by hand, a DenseNet-style network's
// gradients by finite differences, the config's checks and the printout.
#include <gtest/gtest.h>

#include <cmath>
#include <functional>
#include <numeric>

#include "engine/config.h"
#include "engine/error.h"
#include "engine/half.h"
#include "engine/network.h"
#include "engine/ops.h"
#include "layers/concat.h"
#include "tests/network_error.h"
#include "tests/network_gradients.h"
#include "tests/test_util.h"

namespace cnne {
namespace {

using test::HostTensor;

// Element (n, c, h, w) of a tensor of `s` filled with 1000 * tag + its NCHW index.
HostTensor numbered(Shape s, int tag) {
  HostTensor t(s);
  std::iota(t.values.begin(), t.values.end(), 1000.0f * static_cast<float>(tag));
  return t;
}

TEST(Concat, CopiesChannelRangesInBothLayoutsAndAnyDtype) {
  Context ctx(Device::CPU);
  const Shape a{2, 3, 4, 5}, b{2, 7, 4, 5}, y{2, 10, 4, 5};
  const HostTensor xa = numbered(a, 1), xb = numbered(b, 2);
  for (const bool channels_last : {false, true}) {
    // in memory of the layout: NCHW values converted to NHWC when channels_last
    std::vector<float> ma(xa.values.size()), mb(xb.values.size()), my(y.numel(), -1.0f);
    const Tensor ta = Tensor(ma.data(), a).with_channels_last(channels_last),
                 tb = Tensor(mb.data(), b).with_channels_last(channels_last),
                 ty = Tensor(my.data(), y).with_channels_last(channels_last);
    convert_tensor_host(Tensor(const_cast<float*>(xa.values.data()), a), ta);
    convert_tensor_host(Tensor(const_cast<float*>(xb.values.data()), b), tb);
    ops::copy_channels(ctx, ta, 0, ty, 0, 3);
    ops::copy_channels(ctx, tb, 0, ty, 3, 7);
    HostTensor got(y);
    convert_tensor_host(ty, got.view());
    for (int64_t n = 0; n < 2; ++n)
      for (int64_t c = 0; c < 10; ++c)
        for (int64_t p = 0; p < 20; ++p) {
          const float want = c < 3 ? xa.values[size_t((n * 3 + c) * 20 + p)]
                                   : xb.values[size_t((n * 7 + c - 3) * 20 + p)];
          ASSERT_EQ(got.values[size_t((n * 10 + c) * 20 + p)], want)
              << channels_last << " " << n << " " << c << " " << p;
        }
    // a slice back out: channels 4..8 of y are channels 1..5 of b
    std::vector<float> slice(2 * 5 * 20);
    const Tensor ts = Tensor(slice.data(), Shape{2, 5, 4, 5}).with_channels_last(channels_last);
    ops::copy_channels(ctx, ty, 4, ts, 0, 5);
    HostTensor back(Shape{2, 5, 4, 5});
    convert_tensor_host(ts, back.view());
    for (int64_t n = 0; n < 2; ++n)
      for (int64_t c = 0; c < 5; ++c)
        for (int64_t p = 0; p < 20; ++p)
          ASSERT_EQ(back.values[size_t((n * 5 + c) * 20 + p)],
                    xb.values[size_t((n * 7 + c + 1) * 20 + p)]);
  }
  // 16-bit values move as bytes; (N, F) features; a range past the end is refused.
  std::vector<uint16_t> h16{1, 2, 3, 4, 5, 6}, out16(8, 0);
  Tensor s16, d16;
  s16.data = h16.data();
  s16.shape = Shape{2, 3};
  s16.dtype = DType::BF16;
  d16.data = out16.data();
  d16.shape = Shape{2, 4};
  d16.dtype = DType::BF16;
  ops::copy_channels(ctx, s16, 0, d16, 1, 3);
  EXPECT_EQ(out16, (std::vector<uint16_t>{0, 1, 2, 3, 0, 4, 5, 6}));
  EXPECT_THROW(ops::copy_channels(ctx, s16, 1, d16, 0, 3), Error);
}

nlohmann::json dense_network() {
  // A DenseNet block: each conv's output is concatenated to what it read.
  return nlohmann::json::parse(R"({
    "name": "TinyDense", "input": [2, 5, 5], "layers": [
      {"type": "conv2d", "name": "stem", "in_channels": 2, "out_channels": 3, "kernel_size": 3,
       "padding": 1},
      {"type": "conv2d", "name": "grow1", "in_channels": 3, "out_channels": 2, "kernel_size": 3,
       "padding": 1},
      {"type": "concat", "name": "cat1", "inputs": ["stem", "grow1"]},
      {"type": "tanh", "name": "act"},
      {"type": "conv2d", "name": "grow2", "in_channels": 5, "out_channels": 2, "kernel_size": 1},
      {"type": "concat", "name": "cat2", "inputs": ["stem", "grow2", "cat1"]},
      {"type": "global_avgpool2d", "name": "gap"},
      {"type": "flatten", "name": "flat"},
      {"type": "linear", "name": "fc", "in_features": 10, "out_features": 4}]})");
}

// The forward places each input's channels in order, the backward hands each
// its slice, and "stem", read by two layers, sums both gradients.
TEST(Concat, DenseNetworkGradientsMatchFiniteDifferences) {
  Context ctx(Device::CPU);
  Network net = Network::from_json(dense_network(), "dense.json");
  EXPECT_EQ(net.summarize(1)[5].output, Shape({1, 10, 5, 5}));
  EXPECT_EQ(test::network_gradient_check(ctx, net, 3, 5), "");
  EXPECT_NE(net.repr().find("(cat2): Concat(dim=1)"), std::string::npos) << net.repr();
  // The config round trip keeps the inputs.
  const nlohmann::json again = net.to_json();
  EXPECT_EQ(again["layers"][5]["inputs"], nlohmann::json({"stem", "grow2", "cat1"}));
  EXPECT_EQ(Network::from_json(again, "again.json").repr(), net.repr());
}

// The logits and every parameter gradient of the dense network on device d
// for one batch of 4 (weights from seed 3, the same input on every device).
std::vector<float> dense_gradients(Device d, bool channels_last) {
  return test::logits_and_gradients(dense_network(), d, channels_last, Precision::FP32, 4, 3);
}

// Note [channels last]: on the CPU every op reaches the NCHW reference through
// exact transposes, so the NHWC network computes the same bits.
TEST(Concat, ChannelsLastComputesTheSameBitsOnTheCpu) {
  Context ctx(Device::CPU);
  Network net = Network::from_json(dense_network(), "dense.json");
  net.set_channels_last(true);
  net.setup(ctx, {4});
  ASSERT_TRUE(net.input(4).channels_last);  // the run below really is NHWC
  EXPECT_TRUE(dense_gradients(Device::CPU, true) == dense_gradients(Device::CPU, false));
}

TEST(ConcatGpu, DenseNetworkLikeTheCpuInBothLayouts) {
  REQUIRE_GPU();
  const std::vector<float> cpu = dense_gradients(Device::CPU, false);
  for (const bool channels_last : {false, true}) {
    const std::vector<float> gpu = dense_gradients(Device::CUDA, channels_last);
    ASSERT_EQ(gpu.size(), cpu.size());
    for (size_t i = 0; i < cpu.size(); ++i)
      EXPECT_NEAR(gpu[i], cpu[i], 1e-5 + 1e-4 * std::fabs(cpu[i])) << channels_last << " " << i;
  }
}

TEST(Concat, ConfigErrorsNameTheLayerAndTheInputs) {
  const auto error_of = [&](const std::function<void(nlohmann::json&)>& edit) {
    return test::network_error_of(dense_network(), edit, "dense.json");
  };
  const auto has = [](const std::string& message, const std::string& part) {
    return message.find(part) != std::string::npos;
  };
  std::string e = error_of([](auto& j) { j["layers"][2].erase("inputs"); });
  EXPECT_TRUE(has(e, "layer 'cat1' (concat): \"inputs\" must name 2 to 4 layers")) << e;
  e = error_of([](auto& j) {
    j["layers"][5]["inputs"] = {"stem", "grow2", "cat1", "act", "stem"};
  });
  EXPECT_TRUE(has(e, "\"inputs\" must name 2 to 4 layers to concatenate, got 5")) << e;
  e = error_of([](auto& j) { j["layers"][5]["inputs"] = {"stem", "gap"}; });  // gap is later
  EXPECT_TRUE(has(e, "names 'gap', which is not \"input\" or a layer defined before this one"))
      << e;
  e = error_of([](auto& j) {
    j["layers"][1]["stride"] = 2;  // grow1 then has 3x3 planes, stem 5x5
  });
  EXPECT_TRUE(has(e,
                  "layer 'cat1' (concat): input 2 is [1, 2, 3, 3] but input 1 is [1, 3, 5, 5]; "
                  "they may differ in dimension 1 (channels) only"))
      << e;
}

}  // namespace
}  // namespace cnne
