// PReLU (nn.PReLU): PyTorch's outputs and gradients, slope gradient
// included (tests/fixtures/layer_parity.safetensors, tools/make_layer_fixtures.py),
// finite differences, every gradient written, channels-last and 16-bit
// storage on the CPU, the config's checks, the printout and the state_dict
// name. GPU: GpuVsCpu.PReLU (tests/gpu_test.cpp), the kernels under emulation
// in tests/emulated_mul_prelu_test.cpp.
#include <gtest/gtest.h>

#include <cmath>
#include <functional>
#include <limits>

#include "engine/error.h"
#include "engine/half.h"
#include "engine/network.h"
#include "engine/ops.h"
#include "engine/safetensors.h"
#include "layers/prelu.h"
#include "tests/network_error.h"
#include "tests/test_util.h"

namespace cnne {
namespace {

using test::HostTensor;

constexpr float kNaN = std::numeric_limits<float>::quiet_NaN();

TEST(PReLU, MatchesPyTorchForwardBackwardAndSlopeGradient) {
  const Safetensors fx = load_safetensors(test::fixtures_dir() + "/layer_parity.safetensors");
  const nlohmann::json cases = nlohmann::json::parse(fx.metadata.at("prelus"));
  ASSERT_EQ(cases.size(), 3u);
  for (const auto& [name, c] : cases.items()) {
    std::unique_ptr<Layer> layer = test::layer_from_entry(c[0], "act");
    EXPECT_EQ(layer->repr(), c[1].get<std::string>()) << name;
    const HostTensor x = test::host_tensor(*fx.find(name + ".x"));
    const HostTensor weight = test::host_tensor(*fx.find(name + ".weight"));
    const HostTensor dy = test::host_tensor(*fx.find(name + ".dy"));
    Context ctx(Device::CPU);
    HostTensor y(x.shape, kNaN), dx(x.shape, kNaN), dweight(weight.shape, kNaN);
    const Tensor ty = y.view(), tdx = dx.view(), tdw = dweight.view();
    ops::prelu_forward(ctx, x.view(), weight.view(), ty);
    ops::prelu_backward(ctx, x.view(), weight.view(), dy.view(), &tdx, tdw);
    // y and dx are one product each: PyTorch's bits; dweight a sum (PyTorch's in float)
    EXPECT_EQ(test::first_mismatch(y, test::host_tensor(*fx.find(name + ".y")), 0, 0), "") << name;
    EXPECT_EQ(test::first_mismatch(dx, test::host_tensor(*fx.find(name + ".dx")), 0, 0), "")
        << name;
    EXPECT_EQ(
        test::first_mismatch(dweight, test::host_tensor(*fx.find(name + ".dweight")), 1e-5, 1e-5),
        "")
        << name;
  }
}

TEST(PReLU, GradientsMatchFiniteDifferences) {
  for (const auto& [count, in] :
       {std::pair{int64_t{1}, Shape{2, 3, 4, 5}}, std::pair{int64_t{3}, Shape{2, 3, 4, 5}},
        std::pair{int64_t{6}, Shape{5, 6}}}) {
    Rng rng(static_cast<uint64_t>(count));
    HostTensor x(in);
    for (auto& v : x.values)  // eps away from the kink at 0
      v = (rng.uniform01() < 0.5f ? -1.0f : 1.0f) * rng.uniform(0.05f, 2.0f);
    PReLU layer("act", count, -0.3);
    EXPECT_EQ(test::gradient_check(layer, in, x, 5), "") << count << " " << in.str();
  }
}

TEST(PReLU, SixteenBitAndChannelsLastOnTheCpuRoundTheFloatResult) {
  Context ctx(Device::CPU);
  Rng rng(9);
  const Shape in{2, 4, 3, 5};
  const HostTensor x = test::random_tensor(rng, in, -2, 2), dy = test::random_tensor(rng, in);
  const HostTensor w = test::random_tensor(rng, Shape{4}, -0.5f, 0.5f);
  HostTensor y(in), dx(in), dw(Shape{4});
  const Tensor ty = y.view(), tdx = dx.view(), tdw = dw.view();
  ops::prelu_forward(ctx, x.view(), w.view(), ty);
  ops::prelu_backward(ctx, x.view(), w.view(), dy.view(), &tdx, tdw);
  // channels-last F32: the same values through the exact transposes
  std::vector<float> xl(x.values.size()), dyl(x.values.size()), yl(x.values.size()),
      dxl(x.values.size());
  const Tensor txl = Tensor(xl.data(), in).with_channels_last(true),
               tdyl = Tensor(dyl.data(), in).with_channels_last(true),
               tyl = Tensor(yl.data(), in).with_channels_last(true),
               tdxl = Tensor(dxl.data(), in).with_channels_last(true);
  convert_tensor_host(x.view(), txl);
  convert_tensor_host(dy.view(), tdyl);
  HostTensor dwl(Shape{4});
  const Tensor tdwl = dwl.view();
  ops::prelu_forward(ctx, txl, w.view(), tyl);
  ops::prelu_backward(ctx, txl, w.view(), tdyl, &tdxl, tdwl);
  HostTensor back(in);
  convert_tensor_host(tyl, back.view());
  EXPECT_EQ(back.values, y.values);
  convert_tensor_host(tdxl, back.view());
  EXPECT_EQ(back.values, dx.values);
  EXPECT_EQ(dwl.values, dw.values);
  // BF16 activations: each output the float result rounded once; the slope stays F32
  std::vector<uint16_t> x16(x.values.size()), y16(x.values.size());
  for (size_t i = 0; i < x16.size(); ++i) x16[i] = float_to_bf16(x.values[i]);
  Tensor tx16, ty16;
  tx16.data = x16.data();
  ty16.data = y16.data();
  tx16.shape = ty16.shape = in;
  tx16.dtype = ty16.dtype = DType::BF16;
  ops::prelu_forward(ctx, tx16, w.view(), ty16);
  for (size_t i = 0; i < y16.size(); ++i) {
    const float v = bf16_to_float(x16[i]);
    const float want = v > 0 ? v : w.values[(i / 15) % 4] * v;
    ASSERT_EQ(y16[i], float_to_bf16(want)) << i;
  }
}

TEST(PReLU, InANetworkWithItsNameReprAndErrors) {
  const auto network = [](int64_t count) {
    return nlohmann::json{
        {"name", "P"},
        {"input", {3, 6, 6}},
        {"layers",
         {{{"type", "conv2d"},
           {"name", "conv"},
           {"in_channels", 3},
           {"out_channels", 4},
           {"kernel_size", 3}},
          {{"type", "prelu"}, {"name", "act"}, {"num_parameters", count}},
          {{"type", "flatten"}, {"name", "flat"}},
          {{"type", "linear"}, {"name", "fc"}, {"in_features", 64}, {"out_features", 5}}}}};
  };
  Context ctx(Device::CPU);
  Network net = Network::from_json(network(4), "p.json");
  EXPECT_NE(net.repr().find("(act): PReLU(num_parameters=4)"), std::string::npos) << net.repr();
  EXPECT_EQ(net.parameters()[2].name, "act.weight");
  EXPECT_EQ(net.parameters()[2].shape, Shape({4}));
  {
    Network checked = Network::from_json(network(4), "p.json");
    // a step of 1e-3: few of the conv's outputs lie within it of PReLU's kink at 0
    EXPECT_EQ(test::network_gradient_check(ctx, checked, 2, 4, 1e-3), "");
  }
  net.setup(ctx, {2});
  Rng rng(1);
  net.initialize(rng);
  const std::vector<float> all = net.download_parameters();
  for (int64_t i = 0; i < 4; ++i) EXPECT_EQ(all[net.parameters()[2].offset + i], 0.25f);
  EXPECT_EQ(Network::from_json(net.to_json(), "again.json").repr(), net.repr());
  const auto error_of = [&](const std::function<void(nlohmann::json&)>& edit) {
    return test::network_error_of(network(4), edit, "p.json");
  };
  std::string e = error_of([](auto& j) { j["layers"][1]["num_parameters"] = 3; });
  EXPECT_NE(e.find("layer 'act' (prelu): num_parameters is 3 but its input has 4 channels (shape "
                   "[1, 4, 4, 4]); it must be 1 or the channel count"),
            std::string::npos)
      << e;
  e = error_of([](auto& j) { j["layers"][1]["num_parameters"] = 0; });
  EXPECT_NE(e.find("num_parameters must be in 1..16777216"), std::string::npos) << e;
  e = error_of([](auto& j) { j["layers"][1]["init"] = "0.25"; });
  EXPECT_NE(e.find("'init'"), std::string::npos) << e;
  e = error_of([](auto& j) { j["layers"][1]["num_parameter"] = 4; });
  EXPECT_NE(e.find("unknown key 'num_parameter'"), std::string::npos) << e;
}

}  // namespace
}  // namespace cnne
