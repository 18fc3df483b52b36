// cuDNN's half of every convolution and pooling plan, checked without a GPU:
// cuDNN's descriptor calls need no handle, so on any machine with the CUDA
// backend built, every conv2d and pooling layer of every shipped config has
// its descriptors set as the GPU path sets them (cuda/plan_descriptors.cpp),
// for F32 (strict and TF32), BF16 and F16, NCHW and NHWC, at the batch sizes
// the recipe trains and evaluates with. cuDNN must accept each one and agree
// with cnnengine on the output size. (Which algorithms exist for them, and
// what they compute, needs the GPU: tests/gpu_test.cpp.)
#include <gtest/gtest.h>

#ifdef CNNE_WITH_CUDA

#include <algorithm>
#include <filesystem>
#include <string>
#include <vector>

#include "cuda/plans.h"
#include "engine/config.h"
#include "engine/error.h"
#include "engine/network.h"
#include "layers/conv2d.h"
#include "layers/pool2d.h"

namespace cnne::test {
namespace {

namespace fs = std::filesystem;

struct Variant {
  DType dtype;
  bool tf32;
  bool nhwc;
  std::string str() const {
    return std::string(dtype_name(dtype)) + (tf32 ? " tf32" : "") + (nhwc ? " nhwc" : " nchw");
  }
};

std::vector<fs::path> shipped_configs() {
  std::vector<fs::path> paths;
  for (const auto& e : fs::directory_iterator(fs::path(CNNE_SOURCE_DIR) / "configs"))
    if (e.path().extension() == ".json") paths.push_back(e.path());
  std::sort(paths.begin(), paths.end());
  return paths;
}

// Each layer's input shapes for a batch of n: node 0 is the network's input,
// node j + 1 layer j's output (Network::layer_inputs).
std::vector<std::vector<Shape>> layer_input_shapes(const Network& net, int64_t n) {
  std::vector<Shape> nodes;
  const Shape& in = net.input_shape();
  nodes.push_back(Shape{n, in[0], in[1], in[2]});
  std::vector<std::vector<Shape>> inputs;
  for (size_t i = 0; i < net.layer_count(); ++i) {
    std::vector<Shape> xs;
    for (size_t node : net.layer_inputs(i)) xs.push_back(nodes.at(node));
    nodes.push_back(net.layer(i).output_shape_of(xs));
    inputs.push_back(std::move(xs));
  }
  return inputs;
}

struct Counts {
  int convs = 0, pools = 0;
};

// Sets the descriptors of every conv2d and pooling layer of `net` for a batch
// of n under `v`; a failure names the config, the layer and the variant.
Counts check_network(const Network& net, int64_t n, const Variant& v, const std::string& where) {
  Counts counts;
  const auto inputs = layer_input_shapes(net, n);
  for (size_t i = 0; i < net.layer_count(); ++i) {
    const Layer& layer = net.layer(i);
    const Shape& x = inputs[i][0];
    const std::string what = where + " layer '" + layer.name() + "' x " + x.str() + " " + v.str() +
                             " batch " + std::to_string(n);
    if (const auto* conv = dynamic_cast<const Conv2d*>(&layer)) {
      const auto& o = conv->options();
      const Shape w = conv->parameter_specs()[0].shape;  // (K, C / groups, R, S)
      const cuda::ConvKey key = cuda::make_conv_key(o.params, x, w, v.dtype, v.tf32, v.nhwc);
      cuda::ConvPlan plan;
      EXPECT_NO_THROW(cuda::set_descriptors(plan, key, what)) << what;
      ++counts.convs;
    } else if (const auto* pool = dynamic_cast<const Pool2d*>(&layer)) {
      // Pooling stays NCHW on the GPU (Note [channels last]).
      const cudnnPoolingMode_t mode =
          layer.type() == "maxpool2d" ? cuda::kMaxPoolMode : cuda::avg_pool_mode(pool->params());
      cuda::PoolPlan plan;
      EXPECT_NO_THROW(
          cuda::set_descriptors(plan, cuda::make_pool_key(mode, pool->params(), x, v.dtype), what))
          << what;
      ++counts.pools;
    }
  }
  return counts;
}

TEST(CudnnDescriptors, EveryShippedNetworkInEveryPrecisionAndLayout) {
  const auto configs = shipped_configs();
  ASSERT_GE(configs.size(), 6u) << "configs/ holds the shipped recipes";
  int convs = 0, pools = 0, nhwc_networks = 0;
  for (const fs::path& path : configs) {
    const Config config = Config::load(path.string());
    const Network net = Network::from_json(config.network, path.string());
    const bool nhwc_ok = net.channels_last_refusal().empty();
    nhwc_networks += nhwc_ok ? 1 : 0;
    std::vector<Variant> variants;
    for (bool nhwc : {false, true}) {
      if (nhwc && !nhwc_ok) continue;
      variants.push_back({DType::F32, false, nhwc});
      variants.push_back({DType::F32, true, nhwc});
      variants.push_back({DType::BF16, false, nhwc});
      variants.push_back({DType::F16, false, nhwc});
    }
    for (int64_t n : {int64_t{1}, config.training.batch_size, config.eval.batch_size})
      for (const Variant& v : variants) {
        const Counts c = check_network(net, n, v, path.filename().string());
        convs += c.convs;
        pools += c.pools;
      }
  }
  // The shipped networks have convolutions and poolings, and ResNet-18 is
  // channels-last capable: the loops above reached all of them.
  EXPECT_GT(convs, 0);
  EXPECT_GT(pools, 0);
  EXPECT_GE(nhwc_networks, 2) << "resnet18.json and resnet18_bf16.json take channels-last";
}

// Grouped, depthwise (with and without a depth multiplier), grouped 1x1 and
// dilated convolutions (MobileNet / ResNeXt / DeepLab blocks): cuDNN takes each
// one's descriptors, group count and dilation included, in every precision and
// layout, and its output size is cnnengine's.
TEST(CudnnDescriptors, GroupedDepthwiseAndDilatedConvolutions) {
  const nlohmann::json network = nlohmann::json::parse(R"({
    "name": "Blocks", "input": [3, 32, 32], "layers": [
      {"type": "conv2d", "name": "stem", "in_channels": 3, "out_channels": 32, "kernel_size": 3,
       "padding": 1},
      {"type": "conv2d", "name": "dw", "in_channels": 32, "out_channels": 32, "kernel_size": 3,
       "stride": 2, "padding": 1, "groups": 32, "bias": false},
      {"type": "conv2d", "name": "dw2", "in_channels": 32, "out_channels": 64, "kernel_size": 3,
       "padding": 1, "groups": 32},
      {"type": "conv2d", "name": "grouped", "in_channels": 64, "out_channels": 64,
       "kernel_size": 3, "padding": 1, "groups": 4},
      {"type": "conv2d", "name": "pw", "in_channels": 64, "out_channels": 16, "kernel_size": 1,
       "groups": 2},
      {"type": "conv2d", "name": "atrous", "in_channels": 16, "out_channels": 16,
       "kernel_size": 3, "padding": "same", "dilation": 2},
      {"type": "conv2d", "name": "atrous_dw", "in_channels": 16, "out_channels": 16,
       "kernel_size": [3, 2], "stride": 2, "padding": [1, 2], "dilation": [3, 2], "groups": 16},
      {"type": "global_avgpool2d", "name": "gap"},
      {"type": "flatten", "name": "flatten"},
      {"type": "linear", "name": "fc", "in_features": 16, "out_features": 10}]})");
  const Network net = Network::from_json(network, "blocks.json");
  ASSERT_EQ(net.channels_last_refusal(), "");
  int convs = 0;
  for (bool nhwc : {false, true})
    for (const Variant& v : {Variant{DType::F32, false, nhwc}, Variant{DType::F32, true, nhwc},
                             Variant{DType::BF16, false, nhwc}, Variant{DType::F16, false, nhwc}})
      for (int64_t n : {1, 64}) convs += check_network(net, n, v, "blocks.json").convs;
  EXPECT_EQ(convs, 7 * 8 * 2);
  // The key carries the group count; a weight that does not fit it is refused.
  Conv2dParams p;
  p.groups = 4;
  EXPECT_EQ(
      cuda::make_conv_key(p, Shape{2, 64, 8, 8}, Shape{64, 16, 3, 3}, DType::F32, false, false)
          .groups,
      4);
  EXPECT_NE(cuda::describe(cuda::make_conv_key(p, Shape{2, 64, 8, 8}, Shape{64, 16, 3, 3},
                                               DType::F32, false, false))
                .find("w (64, 16, 3, 3) stride (1, 1) pad (0, 0) groups 4"),
            std::string::npos);
  p.dilation_h = 2;
  p.dilation_w = 3;
  const cuda::ConvKey dilated =
      cuda::make_conv_key(p, Shape{2, 64, 8, 8}, Shape{64, 16, 3, 3}, DType::F32, false, false);
  EXPECT_EQ(dilated.dilation_h, 2);
  EXPECT_EQ(dilated.dilation_w, 3);
  EXPECT_NE(cuda::describe(dilated).find("pad (0, 0) dilation (2, 3) groups 4"), std::string::npos)
      << cuda::describe(dilated);
  EXPECT_THROW(
      cuda::make_conv_key(p, Shape{2, 64, 8, 8}, Shape{64, 64, 3, 3}, DType::F32, false, false),
      DeviceError);
}

// The key the layers build: every size, the layout, and TF32 for F32 data
// only; its description (errors, `bench`) names them all.
TEST(CudnnDescriptors, KeysCarryEverySizeAndTf32OnlyForF32) {
  Conv2dParams p;
  p.stride_h = 2;
  p.pad_w = 1;
  const Shape x{8, 3, 32, 30}, w{16, 3, 5, 3};
  const cuda::ConvKey f32 = cuda::make_conv_key(p, x, w, DType::F32, true, true);
  EXPECT_EQ(f32.tf32, 1);
  EXPECT_EQ(f32.nhwc, 1);
  EXPECT_EQ((std::vector<int>{f32.n, f32.c, f32.h, f32.w, f32.k, f32.r, f32.s}),
            (std::vector<int>{8, 3, 32, 30, 16, 5, 3}));
  EXPECT_EQ((std::vector<int>{f32.stride_h, f32.stride_w, f32.pad_h, f32.pad_w}),
            (std::vector<int>{2, 1, 0, 1}));
  EXPECT_EQ(cuda::describe(f32),
            "conv F32 tf32 nhwc x (8, 3, 32, 30) w (16, 3, 5, 3) stride (2, 1) pad (0, 1)");
  EXPECT_EQ(cuda::make_conv_key(p, x, w, DType::BF16, true, false).tf32, 0);
  EXPECT_EQ(cuda::conv_math(cuda::make_conv_key(p, x, w, DType::BF16, false, false)),
            CUDNN_TENSOR_OP_MATH);
  EXPECT_EQ(cuda::conv_math(f32), CUDNN_DEFAULT_MATH);
  EXPECT_EQ(cuda::conv_math(cuda::make_conv_key(p, x, w, DType::F32, false, false)),
            CUDNN_FMA_MATH);
}

TEST(CudnnDescriptors, SizesBeyondIntAreRefusedByName) {
  const Shape huge{int64_t{1} << 32, 3, 32, 32}, w{6, 3, 5, 5};
  try {
    cuda::make_conv_key(Conv2dParams{}, huge, w, DType::F32, false, false);
    FAIL() << "a batch of 2^32 fits no int";
  } catch (const DeviceError& e) {
    EXPECT_NE(std::string(e.what()).find("conv2d: size 4294967296"), std::string::npos) << e.what();
  }
}

// What cuDNN refuses comes back as one error naming the plan.
TEST(CudnnDescriptors, RefusedDescriptorNamesThePlan) {
  Conv2dParams p;
  p.pad_h = -1;  // no layer builds this; cuDNN refuses a negative padding
  const cuda::ConvKey key =
      cuda::make_conv_key(p, Shape{4, 3, 32, 32}, Shape{6, 3, 5, 5}, DType::F32, false, false);
  cuda::ConvPlan plan;
  try {
    cuda::set_descriptors(plan, key, "layer 'conv1'");
    FAIL() << "a negative padding was accepted";
  } catch (const DeviceError& e) {
    const std::string m = e.what();
    EXPECT_NE(m.find("layer 'conv1'"), std::string::npos) << m;
    EXPECT_NE(m.find("CUDNN_STATUS_BAD_PARAM"), std::string::npos) << m;
  }
}

}  // namespace
}  // namespace cnne::test

#endif  // CNNE_WITH_CUDA
