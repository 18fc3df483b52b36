// Parity with PyTorch for the ResNet layers: a residual block with three
// BatchNorms, average pooling and global pooling (tools/make_parity_fixtures.py,
// ResidualTiny), and the same block with GroupNorm and InstanceNorm2d
// (GroupNormTiny). cnnengine must reproduce the training losses, the final
// weights, running statistics and num_batches_tracked, and the eval-mode logits.
#include <gtest/gtest.h>

#include <cmath>
#include <cstring>

#include "engine/checkpoint.h"
#include "engine/loss_meter.h"
#include "engine/network.h"
#include "engine/ops.h"
#include "engine/optimizer.h"
#include "tests/parity.h"
#include "tests/test_util.h"

namespace cnne::test {
namespace {

void expect_close(std::vector<std::string>& problems, const std::string& what, const float* got,
                  const float* want, int64_t n, double tol) {
  for (int64_t i = 0; i < n; ++i)
    if (!(std::fabs(double(got[i]) - want[i]) <= tol * (1 + std::fabs(double(want[i]))))) {
      problems.push_back(what + "[" + std::to_string(i) + "]: cnnengine " + std::to_string(got[i]) +
                         ", PyTorch " + std::to_string(want[i]));
      return;
    }
}

}  // namespace

std::vector<std::string> run_network_parity(Device device, const std::string& fixture) {
  std::vector<std::string> problems;
  const Safetensors fx = load_safetensors(fixtures_dir() + "/" + fixture + ".safetensors");
  const int steps = std::stoi(fx.metadata.at("steps"));
  Network net = Network::from_json(nlohmann::json::parse(fx.metadata.at("network")), "fixture");
  Context ctx(device);
  const int64_t batch = fx.find("step.0.x")->shape[0];
  net.setup(ctx, {batch});
  load_weights(strip_prefix(fx, "init."), "fixture init", net);
  const auto optimizer = Optimizer::create(
      ctx, net,
      OptimizerConfig::from_json(nlohmann::json::parse(fx.metadata.at("optimizer")), "fixture"));
  const StepRates rates{optimizer->config().lr, optimizer->config().momentum};
  LossMeter meter(ctx);
  StepArgs args(ctx);
  Buffer labels(ctx.device(), sizeof(int32_t) * static_cast<size_t>(batch));
  const Tensor label_view(static_cast<int32_t*>(labels.data()), Shape{batch}, ctx.device());
  const float* want_losses = fx.find("losses")->view().f32();
  for (int k = 0; k < steps; ++k) {
    const std::string step = "step." + std::to_string(k);
    copy_tensor(fx.find(step + ".x")->view(), net.input(batch));
    copy_tensor(fx.find(step + ".labels")->view(), label_view);
    meter.reset();
    const Tensor logits = net.forward(batch);
    const Tensor dlogits = net.output_grad(batch);
    ops::softmax_cross_entropy(ctx, logits, label_view, 0.0f, nullptr, &dlogits, meter.loss_sum(),
                               meter.correct());
    net.backward(batch);
    optimizer->step(net, rates, args);
    net.note_training_step();
    const auto loss = static_cast<float>(meter.read().loss_sum);
    expect_close(problems, "loss of step " + std::to_string(k), &loss, &want_losses[k], 1, 2e-5);
  }
  const std::vector<float> params = net.download_parameters();
  for (const NamedParam& p : net.parameters())
    expect_close(problems, "final " + p.name, params.data() + p.offset,
                 fx.find("final." + p.name)->view().f32(), p.shape.numel(), 2e-4);
  const std::vector<float> buffers = net.download_buffers();
  for (const NamedParam& b : net.buffers())
    expect_close(problems, "final " + b.name, buffers.data() + b.offset,
                 fx.find("final." + b.name)->view().f32(), b.shape.numel(), 2e-4);
  for (size_t l = 0; l < net.layer_count(); ++l)
    for (const auto& [name, value] : net.layer(l).counters()) {
      int64_t want = -1;
      std::memcpy(&want, fx.find("final." + net.layer(l).name() + "." + name)->bytes.data(), 8);
      if (value != want)
        problems.push_back(net.layer(l).name() + "." + name + ": " + std::to_string(value) +
                           ", PyTorch " + std::to_string(want));
    }
  net.set_training(false);
  copy_tensor(fx.find("eval.x")->view(), net.input(batch));
  const Tensor logits = net.forward(batch);
  std::vector<float> host(static_cast<size_t>(logits.numel()));
  copy_tensor(logits, Tensor(host.data(), logits.shape));
  expect_close(problems, "eval logits", host.data(), fx.find("eval.logits")->view().f32(),
               logits.numel(), 2e-4);
  return problems;
}

namespace {

TEST(PyTorchParity, ResidualBatchNormNetworkOnCpu) {
  for (const auto& p : run_network_parity(Device::CPU, "residual_parity")) ADD_FAILURE() << p;
}

TEST(PyTorchParity, ResidualGroupNormNetworkOnCpu) {
  for (const auto& p : run_network_parity(Device::CPU, "groupnorm_network_parity"))
    ADD_FAILURE() << p;
}

// Squeeze-and-excitation gates ((N, C, 1, 1) and (N, C)), ReLU6, Hardsigmoid,
// Hardswish and Mish in a residual BatchNorm network.
TEST(PyTorchParity, SqueezeExciteNetworkOnCpu) {
  for (const auto& p : run_network_parity(Device::CPU, "se_network_parity")) ADD_FAILURE() << p;
}

}  // namespace
}  // namespace cnne::test
