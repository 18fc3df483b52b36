// ReLU fusion (Note [ReLU fusion] in engine/network.cpp): which pairs fuse,
// that a fused network trains bit for bit like the unfused one on the CPU,
// that it saves the ReLU outputs' memory, and ReLU's NaN rule on both paths.
#include <gtest/gtest.h>

#include <cmath>
#include <limits>

#include "engine/config.h"
#include "engine/error.h"
#include "engine/loss_meter.h"
#include "engine/network.h"
#include "engine/ops.h"
#include "engine/optimizer.h"
#include "engine/step_args.h"
#include "tests/test_util.h"

namespace cnne::test {
namespace {

Config tutorial_config() {
  return Config::from_json(parse_json_text(Config::embedded_default(), "simplecnn.json"),
                           "simplecnn.json");
}

Network network_of(const std::string& json_text) {
  return Network::from_json(parse_json_text(json_text, "net.json"), "net.json");
}

TEST(ReluFusion, TheTutorialFusesEveryReluIntoItsConvOrLinear) {
  const Config config = tutorial_config();
  Network net = Network::from_json(config.network, "simplecnn.json");
  const std::vector<std::string> expected = {"conv1+relu1", "conv2+relu2", "fc1+relu3",
                                             "fc2+relu4"};
  EXPECT_EQ(net.fused_relus(), expected);
  Context ctx(Device::CPU);
  net.setup(ctx, {4});
  for (size_t i = 0; i < net.layer_count(); ++i) {
    const std::string& type = net.layer(i).type();
    EXPECT_EQ(net.forward_fused(i), type == "relu") << net.layer(i).name();
    EXPECT_EQ(net.layer(i).relu_fused(),
              (type == "conv2d" || type == "linear") && net.layer(i).name() != "fc3")
        << net.layer(i).name();
  }
  EXPECT_THROW(net.set_relu_fusion(false), Error);  // memory is planned already
}

TEST(ReluFusion, OnlyWhereTheReluAloneReadsALayerThatCanApplyIt) {
  // a: read by relu_a and by sum (no fusion); pool -> relu_p (pooling cannot
  // apply it); b -> relu_b (fuses); fc -> relu_fc, the last layer (fuses).
  Network net = network_of(R"({"name": "Mixed", "input": [3, 8, 8], "layers": [
    {"type": "conv2d", "name": "a", "in_channels": 3, "out_channels": 4, "kernel_size": 3,
     "padding": 1},
    {"type": "relu", "name": "relu_a"},
    {"type": "add", "name": "sum", "inputs": ["a", "relu_a"]},
    {"type": "maxpool2d", "name": "pool", "kernel_size": 2},
    {"type": "relu", "name": "relu_p"},
    {"type": "conv2d", "name": "b", "in_channels": 4, "out_channels": 4, "kernel_size": 3,
     "bias": false},
    {"type": "relu", "name": "relu_b"},
    {"type": "flatten"},
    {"type": "linear", "name": "fc", "in_features": 16, "out_features": 10},
    {"type": "relu", "name": "relu_fc"}]})");
  const std::vector<std::string> expected = {"b+relu_b", "fc+relu_fc"};
  EXPECT_EQ(net.fused_relus(), expected);
  net.set_relu_fusion(false);
  EXPECT_TRUE(net.fused_relus().empty());
}

struct TrainResult {
  std::vector<double> losses;
  std::vector<float> weights;
  std::vector<std::vector<float>> outputs;  // every layer's output after the last forward
  std::vector<float> eval_logits;           // a forward in evaluation mode after training
  size_t activation_bytes = 0;
};

// The tutorial network (or `network`) from fixed weights, `steps` SGD steps on
// fixed random batches of 8.
TrainResult train(bool fusion, int steps, const char* network = nullptr) {
  const Config config = tutorial_config();
  Context ctx(Device::CPU);
  Network net =
      network ? network_of(network) : Network::from_json(config.network, "simplecnn.json");
  net.set_relu_fusion(fusion);
  constexpr int64_t kBatch = 8;
  net.setup(ctx, {kBatch});
  Rng rng(5);
  net.initialize(rng);
  const auto optimizer = Optimizer::create(ctx, net, config.training.optimizer);
  const StepRates rates{config.training.optimizer.lr, config.training.optimizer.momentum};
  LossMeter meter(ctx);
  StepArgs args(ctx);
  HostTensor labels_f(Shape{kBatch});
  std::vector<int32_t> labels(kBatch);
  TrainResult result;
  for (int k = 0; k < steps; ++k) {
    const HostTensor x = random_tensor(rng, net.input(kBatch).shape);
    copy_tensor(x.view(), net.input(kBatch));
    for (int32_t& l : labels) l = static_cast<int32_t>(rng.below(10));
    const Tensor label_view(labels.data(), Shape{kBatch});
    meter.reset();
    optimizer->write_step(args.next(), rates);
    args.upload();
    const Tensor logits = net.forward(kBatch);
    const Tensor dlogits = net.output_grad(kBatch);
    ops::softmax_cross_entropy(ctx, logits, label_view, 0.0f, nullptr, &dlogits, meter.loss_sum(),
                               meter.correct());
    net.backward(kBatch);
    optimizer->apply(net, args);
    optimizer->count_step();
    result.losses.push_back(meter.read().loss_sum);
  }
  for (size_t i = 0; i < net.layer_count(); ++i) {
    const Tensor out = net.output_of(i, kBatch);
    result.outputs.emplace_back(out.f32(), out.f32() + out.numel());
  }
  result.weights = net.download_parameters();
  result.activation_bytes = net.memory_plan().activations;
  net.set_training(false);
  const Tensor logits = net.forward(kBatch);
  result.eval_logits.assign(logits.f32(), logits.f32() + logits.numel());
  return result;
}

TEST(ReluFusion, FusedTrainingEqualsUnfusedBitForBitOnTheCpu) {
  const TrainResult fused = train(true, 6), unfused = train(false, 6);
  EXPECT_EQ(fused.losses, unfused.losses);
  EXPECT_TRUE(fused.weights == unfused.weights) << "weights differ after 6 steps";
  // Every ReLU's output is the same; a fused producer's output reads post-ReLU.
  const std::vector<size_t> relus = {1, 4, 8, 10}, producers = {0, 3, 7, 9};
  for (size_t r : relus) EXPECT_TRUE(fused.outputs[r] == unfused.outputs[r]) << "layer " << r;
  for (size_t i = 0; i < producers.size(); ++i)
    EXPECT_TRUE(fused.outputs[producers[i]] == unfused.outputs[relus[i]]) << "layer " << i;
  // The four ReLU outputs (8 x 6x28x28, 8 x 16x10x10, 8 x 120, 8 x 84 floats)
  // are no longer planned; each reservation rounds up to 256 bytes.
  const size_t saved = unfused.activation_bytes - fused.activation_bytes;
  const size_t relu_bytes = sizeof(float) * 8 * (6 * 28 * 28 + 16 * 10 * 10 + 120 + 84);
  EXPECT_GE(saved, relu_bytes);
  EXPECT_LT(saved, relu_bytes + 4 * 256);
}

// The same losses, weights and evaluation outputs (batch norm's running
// statistics included), bit for bit.
void expect_same_training(const TrainResult& fused, const TrainResult& unfused) {
  EXPECT_EQ(fused.losses, unfused.losses);
  EXPECT_TRUE(fused.weights == unfused.weights) << "weights differ after 6 steps";
  EXPECT_TRUE(fused.eval_logits == unfused.eval_logits) << "evaluation (running statistics)";
}

// Batch norm's backward reads x and dy, never y, so the ReLU after it fuses
// (ResNet's bn -> relu pairs): the same training, the same running
// statistics and evaluation outputs, bit for bit.
TEST(ReluFusion, BatchNormFusesItsReluAndTrainsBitForBit) {
  const char* net_json = R"({"name": "ConvBn", "input": [3, 8, 8], "layers": [
    {"type": "conv2d", "name": "a", "in_channels": 3, "out_channels": 4, "kernel_size": 3,
     "padding": 1, "bias": false},
    {"type": "batchnorm2d", "name": "bn_a", "num_features": 4},
    {"type": "relu", "name": "relu_a"},
    {"type": "conv2d", "name": "b", "in_channels": 4, "out_channels": 4, "kernel_size": 3,
     "stride": 2, "padding": 1, "bias": false},
    {"type": "batchnorm2d", "name": "bn_b", "num_features": 4},
    {"type": "relu", "name": "relu_b"},
    {"type": "flatten"},
    {"type": "linear", "name": "fc", "in_features": 64, "out_features": 10}]})";
  const std::vector<std::string> expected = {"bn_a+relu_a", "bn_b+relu_b"};
  EXPECT_EQ(network_of(net_json).fused_relus(), expected);
  const TrainResult fused = train(true, 6, net_json), unfused = train(false, 6, net_json);
  expect_same_training(fused, unfused);
  EXPECT_TRUE(fused.outputs[1] == unfused.outputs[2]) << "bn_a's output reads post-ReLU";
  EXPECT_LT(fused.activation_bytes, unfused.activation_bytes);
}

// A residual join's backward reads only dy, so the ReLU after it fuses
// (ResNet's add -> relu): y = relu(a + b) in one pass, the same training.
TEST(ReluFusion, AResidualJoinFusesItsReluAndTrainsBitForBit) {
  const char* net_json = R"({"name": "Residual", "input": [3, 8, 8], "layers": [
    {"type": "conv2d", "name": "stem", "in_channels": 3, "out_channels": 4, "kernel_size": 3,
     "padding": 1, "bias": false},
    {"type": "batchnorm2d", "name": "bn", "num_features": 4},
    {"type": "relu", "name": "relu"},
    {"type": "conv2d", "name": "branch", "in_channels": 4, "out_channels": 4, "kernel_size": 3,
     "padding": 1, "bias": false},
    {"type": "batchnorm2d", "name": "branch_bn", "num_features": 4},
    {"type": "add", "name": "join", "inputs": ["branch_bn", "relu"]},
    {"type": "relu", "name": "join_relu"},
    {"type": "flatten"},
    {"type": "linear", "name": "fc", "in_features": 256, "out_features": 10}]})";
  const std::vector<std::string> expected = {"bn+relu", "join+join_relu"};
  EXPECT_EQ(network_of(net_json).fused_relus(), expected);
  const TrainResult fused = train(true, 6, net_json), unfused = train(false, 6, net_json);
  expect_same_training(fused, unfused);
  EXPECT_TRUE(fused.outputs[5] == unfused.outputs[6]) << "join's output reads post-ReLU";
  size_t negative = 0;
  for (float v : unfused.outputs[5]) negative += v < 0.0f;
  EXPECT_GT(negative, 0u) << "the sum has negative elements for the ReLU to clear";
  for (float v : fused.outputs[5]) EXPECT_GE(v, 0.0f);
  // join_relu's output (8 x 4x8x8 floats) is no longer planned.
  EXPECT_GE(unfused.activation_bytes - fused.activation_bytes, sizeof(float) * 8 * 4 * 8 * 8);
}

TEST(ReluFusion, ReluKeepsNanLikePyTorchFusedOrNot) {
  Context ctx(Device::CPU);
  const float nan = std::numeric_limits<float>::quiet_NaN();
  HostTensor x(Shape{1, 4});
  x.values = {nan, -1.0f, 2.0f, -0.0f};
  HostTensor y(x.shape, 7.0f);
  ops::relu_forward(ctx, x.view(), y.view());
  EXPECT_TRUE(std::isnan(y[0]));
  EXPECT_EQ(y[1], 0.0f);
  EXPECT_EQ(y[2], 2.0f);
  EXPECT_EQ(y[3], 0.0f);
  HostTensor dy(x.shape, 1.0f), dx(x.shape, 9.0f);
  ops::relu_backward(ctx, y.view(), dy.view(), dx.view());
  EXPECT_EQ(dx.values, (std::vector<float>{0.0f, 0.0f, 1.0f, 0.0f}));  // PyTorch: grad * (y > 0)

  // linear with ReLU fused: rows (x w^T + b) = (nan, -3, 5)
  HostTensor in(Shape{1, 2}), w(Shape{3, 2}), b(Shape{3}), out(Shape{1, 3});
  in.values = {1.0f, 2.0f};
  w.values = {1.0f, 0.0f, -1.0f, -1.0f, 1.0f, 1.0f};
  b.values = {nan, 0.0f, 2.0f};
  const Tensor bv = b.view();
  ops::linear_forward(ctx, in.view(), w.view(), &bv, FusedActivation::kRelu, out.view());
  EXPECT_TRUE(std::isnan(out[0]));
  EXPECT_EQ(out[1], 0.0f);
  EXPECT_EQ(out[2], 5.0f);

  // conv2d (1x1, two output channels) with ReLU fused: channel 0 NaN, channel 1 relu(-x + 1)
  HostTensor img(Shape{1, 1, 1, 3}), k(Shape{2, 1, 1, 1}), kb(Shape{2}), fmap(Shape{1, 2, 1, 3});
  img.values = {0.5f, 1.0f, 3.0f};
  k.values = {1.0f, -1.0f};
  kb.values = {nan, 1.0f};
  const Tensor kbv = kb.view();
  ops::conv2d_forward(ctx, Conv2dParams{}, img.view(), k.view(), &kbv, FusedActivation::kRelu,
                      fmap.view());
  for (int i = 0; i < 3; ++i) EXPECT_TRUE(std::isnan(fmap[static_cast<size_t>(i)])) << i;
  EXPECT_EQ(fmap[3], 0.5f);
  EXPECT_EQ(fmap[4], 0.0f);
  EXPECT_EQ(fmap[5], 0.0f);
}

TEST(ReluFusion, BenchAndSummaryShowIt) {
  const RunResult summary = run_cli("summary");
  EXPECT_EQ(summary.exit_code, 0) << summary.err;
  EXPECT_NE(summary.out.find("fused into their producer when run (--no-fusion keeps them apart): "
                             "conv1+relu1 conv2+relu2 fc1+relu3 fc2+relu4"),
            std::string::npos)
      << summary.out;
  const RunResult fused = run_cli("bench --device cpu --steps 1 --warmup 0");
  EXPECT_EQ(fused.exit_code, 0) << fused.err;
  EXPECT_NE(fused.out.find("(fused)"), fused.out.rfind("(fused)"))  // ReLUs, besides the loss
      << fused.out;
  const RunResult apart = run_cli("bench --device cpu --steps 1 --warmup 0 --no-fusion");
  EXPECT_EQ(apart.exit_code, 0) << apart.err;
  EXPECT_EQ(apart.out.find("(fused)"), apart.out.rfind("(fused)"))  // the loss line only
      << apart.out;
}

}  // namespace
}  // namespace cnne::test
