// Mul (x * s, squeeze-and-excitation's rescaling): the op pair by hand in
// both layouts, in 16 bits, with a gate and with two tensors of one shape;
// every gradient written (Note [backward contract]); a squeeze-and-excitation
// network's gradients by finite differences, with the gate first or second,
// (N, C, 1, 1) or (N, C), and one input read twice; the config's checks and
// the printout. The PyTorch fixture is tests/fixtures/se_network_parity
// (tests/residual_parity_test.cpp).
#include <gtest/gtest.h>

#include <cmath>
#include <functional>
#include <limits>

#include "engine/config.h"
#include "engine/error.h"
#include "engine/half.h"
#include "engine/network.h"
#include "engine/ops.h"
#include "layers/mul.h"
#include "tests/network_error.h"
#include "tests/network_gradients.h"
#include "tests/test_util.h"

namespace cnne {
namespace {

using test::HostTensor;

constexpr float kNaN = std::numeric_limits<float>::quiet_NaN();

// `t`'s NCHW values in memory of the layout asked (channels-last where the
// shape has more than one pixel), in `store`.
Tensor laid_out(const HostTensor& t, std::vector<float>& store, bool channels_last) {
  store.assign(t.values.size(), kNaN);
  const Tensor out = Tensor(store.data(), t.shape).with_channels_last(channels_last);
  convert_tensor_host(Tensor(const_cast<float*>(t.values.data()), t.shape), out);
  return out;
}

HostTensor nchw_of(const Tensor& t) {
  HostTensor h(t.shape);
  convert_tensor_host(t, h.view());
  return h;
}

TEST(Mul, GatesEachPlaneInBothLayoutsAndSumsItsGradient) {
  Context ctx(Device::CPU);
  Rng rng(4);
  const Shape map{2, 3, 4, 5};
  const HostTensor x = test::random_tensor(rng, map), dy = test::random_tensor(rng, map);
  for (const Shape gate_shape : {Shape{2, 3, 1, 1}, Shape{2, 3}}) {
    const HostTensor s = test::random_tensor(rng, gate_shape, 0.0f, 1.0f);
    for (const bool channels_last : {false, true}) {
      std::vector<float> mx, mdy, my, mdx;
      const Tensor tx = laid_out(x, mx, channels_last), tdy = laid_out(dy, mdy, channels_last);
      const Tensor ty = laid_out(HostTensor(map, kNaN), my, channels_last);
      const Tensor tdx = laid_out(HostTensor(map, kNaN), mdx, channels_last);
      HostTensor ds(gate_shape, kNaN);
      const Tensor tds = ds.view();
      ops::mul_forward(ctx, tx, s.view(), ty);
      ops::mul_backward(ctx, tx, s.view(), tdy, &tdx, &tds);
      const HostTensor y = nchw_of(ty), dx = nchw_of(tdx);
      for (int64_t p = 0; p < 6; ++p) {
        double sum = 0;
        for (int64_t i = p * 20; i < (p + 1) * 20; ++i) {
          const auto at = static_cast<size_t>(i);
          ASSERT_EQ(y.values[at], x.values[at] * s.values[size_t(p)]) << channels_last << " " << i;
          ASSERT_EQ(dx.values[at], dy.values[at] * s.values[size_t(p)]) << i;
          sum += double(dy.values[at]) * double(x.values[at]);
        }
        EXPECT_EQ(ds.values[size_t(p)], static_cast<float>(sum)) << gate_shape.str() << " " << p;
      }
    }
  }
}

TEST(Mul, TwoTensorsOfOneShapeMultiplyElementwiseAndIn16Bits) {
  Context ctx(Device::CPU);
  Rng rng(5);
  const Shape shape{3, 4, 2, 3};
  const HostTensor a = test::random_tensor(rng, shape, -3, 3), b = test::random_tensor(rng, shape);
  const HostTensor dy = test::random_tensor(rng, shape);
  HostTensor y(shape, kNaN), da(shape, kNaN), db(shape, kNaN);
  const Tensor ty = y.view(), tda = da.view(), tdb = db.view();
  ops::mul_forward(ctx, a.view(), b.view(), ty);
  ops::mul_backward(ctx, a.view(), b.view(), dy.view(), &tda, &tdb);
  for (size_t i = 0; i < y.values.size(); ++i) {
    ASSERT_EQ(y.values[i], a.values[i] * b.values[i]) << i;
    ASSERT_EQ(da.values[i], dy.values[i] * b.values[i]) << i;
    ASSERT_EQ(db.values[i], dy.values[i] * a.values[i]) << i;
  }
  // Note [mixed precision]: BF16 storage, the float product rounded once.
  std::vector<uint16_t> a16(a.values.size()), b16(a.values.size()), y16(a.values.size());
  for (size_t i = 0; i < a16.size(); ++i) {
    a16[i] = float_to_bf16(a.values[i]);
    b16[i] = float_to_bf16(b.values[i]);
  }
  const auto bf16 = [&](std::vector<uint16_t>& v) {
    Tensor t;
    t.data = v.data();
    t.shape = shape;
    t.dtype = DType::BF16;
    return t;
  };
  ops::mul_forward(ctx, bf16(a16), bf16(b16), bf16(y16));
  for (size_t i = 0; i < y16.size(); ++i)
    ASSERT_EQ(y16[i], float_to_bf16(bf16_to_float(a16[i]) * bf16_to_float(b16[i]))) << i;
  // A gradient nobody needs is not computed; a gate that fits nothing is refused.
  HostTensor only(shape, kNaN);
  const Tensor tonly = only.view();
  ops::mul_backward(ctx, a.view(), b.view(), dy.view(), nullptr, &tonly);
  EXPECT_EQ(only.values, db.values);
  const HostTensor wrong(Shape{3, 5});
  EXPECT_THROW(ops::mul_forward(ctx, a.view(), wrong.view(), ty), Error);
}

nlohmann::json se_network() {
  // A squeeze-and-excitation block on the main branch (an (N, C, 1, 1) gate of
  // 1x1 convolutions, named second), a gate of a linear layer ((N, C), named
  // first) on the shortcut, and a square (one input read twice).
  return nlohmann::json::parse(R"({
    "name": "TinySE", "input": [2, 5, 5], "layers": [
      {"type": "conv2d", "name": "stem", "in_channels": 2, "out_channels": 4, "kernel_size": 3,
       "padding": 1},
      {"type": "tanh", "name": "act"},
      {"type": "global_avgpool2d", "name": "squeeze"},
      {"type": "conv2d", "name": "reduce", "in_channels": 4, "out_channels": 2, "kernel_size": 1},
      {"type": "silu", "name": "reduce_act"},
      {"type": "conv2d", "name": "expand", "in_channels": 2, "out_channels": 4, "kernel_size": 1},
      {"type": "sigmoid", "name": "excite"},
      {"type": "mul", "name": "scale", "inputs": ["act", "excite"]},
      {"type": "global_avgpool2d", "name": "pool2", "inputs": ["stem"]},
      {"type": "flatten", "name": "flat2"},
      {"type": "linear", "name": "gate_fc", "in_features": 4, "out_features": 4},
      {"type": "sigmoid", "name": "gate"},
      {"type": "mul", "name": "gated", "inputs": ["gate", "stem"]},
      {"type": "mul", "name": "square", "inputs": ["gated", "gated"]},
      {"type": "add", "name": "join", "inputs": ["scale", "square"]},
      {"type": "global_avgpool2d", "name": "gap"},
      {"type": "flatten", "name": "flat"},
      {"type": "linear", "name": "fc", "in_features": 4, "out_features": 3}]})");
}

TEST(Mul, SqueezeExciteNetworkGradientsMatchFiniteDifferences) {
  Context ctx(Device::CPU);
  Network net = Network::from_json(se_network(), "se.json");
  const std::vector<LayerSummary> rows = net.summarize(1);
  EXPECT_EQ(rows[7].output, Shape({1, 4, 5, 5}));
  EXPECT_EQ(rows[12].output, Shape({1, 4, 5, 5}));  // the gate named first
  EXPECT_EQ(rows[12].flops, 100);
  EXPECT_EQ(test::network_gradient_check(ctx, net, 3, 6), "");
  EXPECT_NE(net.repr().find("(scale): Mul()"), std::string::npos) << net.repr();
  const nlohmann::json again = net.to_json();
  EXPECT_EQ(again["layers"][12]["inputs"], nlohmann::json({"gate", "stem"}));
  EXPECT_EQ(Network::from_json(again, "again.json").repr(), net.repr());
}

// The logits and every parameter gradient of the SE network on device d for
// one batch of 4 (weights from seed 3, the same input on every device).
std::vector<float> se_gradients(Device d, bool channels_last, Precision precision) {
  return test::logits_and_gradients(se_network(), d, channels_last, precision, 4, 3);
}

// Note [channels last]: on the CPU every op reaches the NCHW reference through
// exact transposes, so the NHWC network computes the same bits.
TEST(Mul, ChannelsLastComputesTheSameBitsOnTheCpu) {
  EXPECT_TRUE(se_gradients(Device::CPU, true, Precision::FP32) ==
              se_gradients(Device::CPU, false, Precision::FP32));
}

TEST(MulGpu, SqueezeExciteNetworkLikeTheCpuInBothLayoutsAndBf16) {
  REQUIRE_GPU();
  for (const Precision precision : {Precision::FP32, Precision::BF16}) {
    const std::vector<float> cpu = se_gradients(Device::CPU, false, precision);
    const double tol = precision == Precision::FP32 ? 1e-4 : 2e-2;
    for (const bool channels_last : {false, true}) {
      const std::vector<float> gpu = se_gradients(Device::CUDA, channels_last, precision);
      ASSERT_EQ(gpu.size(), cpu.size());
      for (size_t i = 0; i < cpu.size(); ++i)
        EXPECT_NEAR(gpu[i], cpu[i], 1e-5 + tol * std::fabs(cpu[i]))
            << channels_last << " " << precision_name(precision) << " " << i;
    }
  }
}

TEST(Mul, ConfigErrorsNameTheLayerAndBothShapes) {
  const auto error_of = [&](const std::function<void(nlohmann::json&)>& edit) {
    return test::network_error_of(se_network(), edit, "se.json");
  };
  const auto has = [](const std::string& message, const std::string& part) {
    return message.find(part) != std::string::npos;
  };
  std::string e = error_of([](auto& j) { j["layers"][5]["out_channels"] = 3; });
  EXPECT_TRUE(has(e,
                  "layer 'scale' (mul): multiplies two inputs of the same shape, or an (N, C, "
                  "H, W) map by an (N, C, 1, 1) or (N, C) gate, got [1, 4, 5, 5] and "
                  "[1, 3, 1, 1]"))
      << e;
  e = error_of([](auto& j) { j["layers"][12]["inputs"] = {"stem", "squeeze", "gate"}; });
  EXPECT_TRUE(has(e, "'gated'")) << e;
  e = error_of([](auto& j) { j["layers"][7].erase("inputs"); });
  EXPECT_TRUE(has(e, "'scale'")) << e;
  e = error_of([](auto& j) { j["layers"][13]["inputs"] = {"gated", "flat2"}; });  // (1, 4) != map
  EXPECT_EQ(e, "no error");  // (N, C) of the same N and C is a gate
  e = error_of([](auto& j) { j["layers"][13]["inputs"] = {"stem", "reduce"}; });
  EXPECT_TRUE(has(e, "got [1, 4, 5, 5] and [1, 2, 1, 1]")) << e;
}

}  // namespace
}  // namespace cnne
