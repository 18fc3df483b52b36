// The fused step's cooperative kernel on a GPU (Note [fused step] in
// engine/fused_step.h) against the host loop, which runs the same phases, and
// against the GPU's layer path. Skipped without a GPU.
#include <gtest/gtest.h>

#include <memory>

#include "engine/config.h"
#include "engine/device_dataset.h"
#include "engine/fused_step.h"
#include "engine/loss_meter.h"
#include "engine/normalization.h"
#include "engine/optimizer.h"
#include "tests/fused_test_util.h"
#include "tests/test_util.h"

namespace cnne {
namespace {

using namespace fused_test;

TEST(FusedStepGpu, TheKernelComputesWhatTheHostComputes) {
  REQUIRE_GPU();
  nlohmann::json adamw = everything_config();
  adamw["training"]["optimizer"] = {{"type", "adamw"}, {"lr", 0.002}};
  for (const nlohmann::json& json :
       {tutorial_config(), everything_config(), adamw, pooled_config(), fashion_config()}) {
    const ImageDataset data = images_for(json, 23, 8);
    const auto host = train(Device::CPU, json, data, true);
    const auto gpu = train(Device::CUDA, json, data, true);
    // Built without contraction on both sides: only the loss's exp and log may differ.
    EXPECT_LT(max_difference(gpu.weights, host.weights), 1e-6) << json["network"]["name"];
    EXPECT_LT(max_difference(gpu.momentum, host.momentum), 1e-6);
    EXPECT_EQ(logged_losses(gpu.log), logged_losses(host.log));
  }
}

// One step on each, then every stage's buffers side by side: the first that
// differs names the phase to look at (the tests above only see the result).
TEST(FusedStepGpu, EachStageMatchesTheHostAfterOneStep) {
  REQUIRE_GPU();
  for (const nlohmann::json& json : {tutorial_config(), everything_config(), pooled_config()}) {
    const Config config = Config::from_json(json, "test.json");
    const ImageDataset data = random_images(10, 4);
    struct Run {
      std::unique_ptr<Context> ctx;
      std::unique_ptr<Network> net;
      std::unique_ptr<Optimizer> optimizer;
      std::unique_ptr<DeviceDataset> dataset;
      std::unique_ptr<LossMeter> meter;
      std::unique_ptr<Buffer> nonfinite;
      std::unique_ptr<FusedStep> step;
    };
    auto make = [&](Device device) {
      Run r;
      r.ctx = std::make_unique<Context>(device);
      r.net = std::make_unique<Network>(Network::from_json(config.network, "test.json"));
      r.net->setup(*r.ctx, {config.training.batch_size});
      Rng rng(3);
      r.net->initialize(rng);
      r.optimizer = Optimizer::create(*r.ctx, *r.net, config.training.optimizer);
      r.dataset = std::make_unique<DeviceDataset>(*r.ctx, data,
                                                  Normalization(config.data.mean, config.data.std));
      r.dataset->set_augment(config.data.augment, 5);
      Rng order(8);
      r.dataset->start_epoch(order, 0, true);
      r.meter = std::make_unique<LossMeter>(*r.ctx);
      r.nonfinite = std::make_unique<Buffer>(device, sizeof(int32_t));
      const Tensor count(static_cast<int32_t*>(r.nonfinite->data()), Shape{1}, device);
      int32_t zero = 0;
      copy_tensor(Tensor(&zero, Shape{1}), count);
      r.step = std::make_unique<FusedStep>(*r.ctx, *r.net, *r.optimizer, *r.dataset, config,
                                           r.meter->loss_sum(), r.meter->correct(), count);
      r.step->run({fused_step_args(*r.dataset, 0, config.training.batch_size, *r.optimizer,
                                   StepRates{config.training.optimizer.lr, 0.9}, 0)});
      r.ctx->synchronize();
      return r;
    };
    const Run host = make(Device::CPU), gpu = make(Device::CUDA);
    const FusedPlan& hp = host.step->plan();
    const FusedPlan& gp = gpu.step->plan();
    const int64_t n = config.training.batch_size;
    auto fetch = [](const float* p, int64_t count, Device d) {
      std::vector<float> v(static_cast<size_t>(count));
      copy_tensor(Tensor(const_cast<float*>(p), Shape{count}, d), Tensor(v.data(), Shape{count}));
      return v;
    };
    for (int32_t s = 0; s < hp.stage_count; ++s) {
      const FusedStage& h = hp.stages[s];
      const FusedStage& g = gp.stages[s];
      const int64_t count = n * h.k * h.p * h.q;
      const std::string at = std::string(json["network"]["name"]) + " stage " + std::to_string(s);
      EXPECT_LT(max_difference(fetch(g.y, count, Device::CUDA), fetch(h.y, count, Device::CPU)),
                1e-6)
          << at << " forward output";
      const bool pool_folded = s + 1 < hp.stage_count && hp.stages[s + 1].pool_before == s;
      if (!pool_folded) {
        EXPECT_LT(max_difference(fetch(g.dy, count, Device::CUDA), fetch(h.dy, count, Device::CPU)),
                  1e-6)
            << at << " output gradient";
      }
    }
    EXPECT_LT(max_difference(gpu.net->download_parameters(), host.net->download_parameters()), 1e-6)
        << json["network"]["name"] << " parameters after the update";
  }
}

TEST(FusedStepGpu, TrainsLikeTheGpuLayerPath) {
  REQUIRE_GPU();
  for (const nlohmann::json& json : {tutorial_config(), fashion_config()}) {
    const ImageDataset data = images_for(json, 4 * 40, 6);
    const auto fused = train(Device::CUDA, json, data, true);
    const auto layers = train(Device::CUDA, json, data, false);
    expect_same_training(fused, layers, 1e-4);
  }
}

// The GPU layer path on grayscale 28x28 images (cuDNN with one input channel
// and padding, configs/fashion_mnist.json) trains like the CPU reference.
TEST(GpuVsCpu, GrayscaleLeNet5TrainsLikeTheCpu) {
  REQUIRE_GPU();
  const ImageDataset data = images_for(fashion_config(), 4 * 40, 9);
  const auto gpu = train(Device::CUDA, fashion_config(), data, false);
  const auto cpu = train(Device::CPU, fashion_config(), data, false);
  expect_same_training(gpu, cpu, 1e-4);
}

TEST(FusedStepGpu, ManyBlocksAndRunsOfManySteps) {
  REQUIRE_GPU();
  // 600 steps in three runs: 512 (FusedStep::kMaxSteps), 38 (to the log line
  // at 550), 50 (to the epoch's end).
  nlohmann::json json = tutorial_config();
  json["training"]["log_every"] = 550;
  json["training"]["epochs"] = 1;
  const ImageDataset data = random_images(4 * 600, 7);
  const auto gpu = train(Device::CUDA, json, data, true);
  const auto host = train(Device::CPU, json, data, true);
  EXPECT_EQ(gpu.state.steps, 600);
  // 600 steps: room for a last-bit difference of the loss's exp (the only
  // arithmetic the two do not share) to grow
  EXPECT_LT(max_difference(gpu.weights, host.weights), 1e-3);
  const auto g = logged_losses(gpu.log), h = logged_losses(host.log);
  ASSERT_EQ(g.size(), 1u);
  ASSERT_EQ(h.size(), 1u);
  EXPECT_NEAR(g[0], h[0], 0.002);
}

}  // namespace
}  // namespace cnne
