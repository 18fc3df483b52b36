// The fused step (Note [fused step] in engine/fused_step.h) against the layer
// path: the same training to rounding on the CPU, for the tutorial and for a
// network that uses every option it takes; the same result for any number of
// threads; exact resume; clear refusals. tests/fused_step_gpu_test.cpp runs
// the same phases in the cooperative kernel and compares them with the host's.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <cstring>
#include <filesystem>
#include <memory>
#include <sstream>

#include "engine/checkpoint.h"
#include "engine/config.h"
#include "engine/device_dataset.h"
#include "engine/error.h"
#include "engine/fused_step.h"
#include "engine/loss_meter.h"
#include "engine/normalization.h"
#include "engine/optimizer.h"
#include "engine/schedule.h"
#include "engine/trainer.h"
#include "tests/fused_test_util.h"
#include "tests/test_util.h"

namespace cnne {
namespace {

using namespace fused_test;
using test::TempDir;

TEST(FusedStep, TrainsTheTutorialLikeTheLayerPath) {
  const ImageDataset data = random_images(4 * 12 + 2, 6);  // a partial last batch of 2
  const auto fused = train(Device::CPU, tutorial_config(), data, true);
  const auto layers = train(Device::CPU, tutorial_config(), data, false);
  expect_same_training(fused, layers, 1e-5);
  EXPECT_EQ(fused.state.steps, 26);
}

// Grayscale 28x28 images and a padded one-channel first conv (LeNet-5 on
// Fashion-MNIST): the same training as the layer path.
TEST(FusedStep, TrainsLeNet5OnGrayscaleImagesLikeTheLayerPath) {
  const ImageDataset data = images_for(fashion_config(), 4 * 9 + 3, 12);
  const auto fused = train(Device::CPU, fashion_config(), data, true);
  const auto layers = train(Device::CPU, fashion_config(), data, false);
  expect_same_training(fused, layers, 1e-5);
  EXPECT_EQ(fused.state.steps, 2 * 10);  // 2 epochs of 10 batches, the last of 3
}

TEST(FusedStep, TrainsEveryOptionItTakesLikeTheLayerPath) {
  const ImageDataset data = random_images(23, 8);  // batches of 5, the last of 3
  const auto fused = train(Device::CPU, everything_config(), data, true);
  const auto layers = train(Device::CPU, everything_config(), data, false);
  expect_same_training(fused, layers, 1e-5);
}

// Note [random erasing]: the fused step assembles its batches with the same
// per-element function, so it erases as the layer path does.
TEST(FusedStep, TrainsWithRandomErasingLikeTheLayerPath) {
  nlohmann::json config = everything_config();
  config["data"]["augment"] = {{"crop_padding", 4},
                               {"horizontal_flip", true},
                               {"random_erasing", {{"p", 0.8}, {"value", {1.0, -1.0, 0.5}}}}};
  const ImageDataset data = random_images(23, 9);
  const auto fused = train(Device::CPU, config, data, true);
  const auto layers = train(Device::CPU, config, data, false);
  expect_same_training(fused, layers, 1e-5);
  nlohmann::json without = config;
  without["data"]["augment"].erase("random_erasing");
  const auto plain = train(Device::CPU, without, data, false);
  EXPECT_NE(layers.weights, plain.weights) << "erasing changed nothing";
}

TEST(FusedStep, TrainsFusedPoolingLikeTheLayerPath) {
  const ImageDataset data = random_images(23, 8);
  const auto fused = train(Device::CPU, pooled_config(), data, true);
  const auto layers = train(Device::CPU, pooled_config(), data, false);
  expect_same_training(fused, layers, 1e-5);
  // Two pools in a row: the first is not folded (a pool's backward cannot take it).
  nlohmann::json twice = pooled_config();
  auto& l = twice["network"]["layers"];
  l.insert(l.begin() + 2,
           nlohmann::json::object({{"type", "maxpool2d"}, {"name", "pool1b"}, {"kernel_size", 2}}));
  l[4]["stride"] = 1;  // conv2 keeps 8x8 from the 8x8 map
  const auto fused2 = train(Device::CPU, twice, data, true);
  const auto layers2 = train(Device::CPU, twice, data, false);
  expect_same_training(fused2, layers2, 1e-5);
}

// Adam and AdamW (the tutorial's suggested next step, configs/simplecnn_adam.json).
TEST(FusedStep, TrainsWithAdamAndAdamWLikeTheLayerPath) {
  const ImageDataset data = random_images(23, 8);
  for (const char* type : {"adam", "adamw"}) {
    nlohmann::json json = everything_config();
    json["training"]["optimizer"] = {{"type", type}, {"lr", 0.002}, {"weight_decay", 0.01}};
    const auto fused = train(Device::CPU, json, data, true);
    const auto layers = train(Device::CPU, json, data, false);
    expect_same_training(fused, layers, 1e-5);
  }
}

// The host must act between steps (log lines, periodic checkpoints): a fused
// run ends there, so the run prints and saves at the same steps as the layer
// path, in the same order.
TEST(FusedStep, LogsAndCheckpointsAtTheSameSteps) {
  const ImageDataset data = random_images(23, 8);  // 5 batches per epoch
  nlohmann::json json = everything_config();
  json["training"]["checkpoint_every_steps"] = 4;
  TempDir dir;
  const auto fused =
      train(Device::CPU, json, data, true, 0, nullptr, nullptr, nullptr, dir.file("f.safetensors"));
  const auto layers = train(Device::CPU, json, data, false, 0, nullptr, nullptr, nullptr,
                            dir.file("l.safetensors"));
  auto events = [](const std::string& log) {  // "[Epoch: 1, Batch: 3]" and "Checkpoint" lines
    std::istringstream in(log);
    std::string line, out;
    while (std::getline(in, line))
      if (line.rfind("[Epoch", 0) == 0)
        out += line.substr(0, line.find(']') + 1) + "\n";
      else if (line.rfind("Checkpoint ", 0) == 0)
        out += "checkpoint " + line.substr(line.rfind('.', line.rfind('.') - 1)) + "\n";
    return out;
  };
  EXPECT_EQ(events(fused.log), events(layers.log));
  EXPECT_NE(events(fused.log).find("step-8"), std::string::npos) << fused.log;
  EXPECT_LT(max_difference(fused.weights, layers.weights), 1e-5);
  // Each periodic checkpoint holds the weights of its step, not of a later one.
  for (const char* step : {"step-4", "step-8"}) {
    const Safetensors a = load_safetensors(dir.file(std::string("f.") + step + ".safetensors"));
    const Safetensors b = load_safetensors(dir.file(std::string("l.") + step + ".safetensors"));
    const auto* wa = a.find("fc2.weight");
    const auto* wb = b.find("fc2.weight");
    ASSERT_TRUE(wa && wb) << step;
    std::vector<float> va(wa->bytes.size() / 4), vb(wb->bytes.size() / 4);
    std::memcpy(va.data(), wa->bytes.data(), wa->bytes.size());
    std::memcpy(vb.data(), wb->bytes.data(), wb->bytes.size());
    EXPECT_LT(max_difference(va, vb), 1e-5) << step;
  }
}

// What the phases compute does not depend on how many threads share them:
// the host emulating 1, 7 or 300 threads gives the same bits.
TEST(FusedStep, SameBitsForAnyThreadCount) {
  for (const nlohmann::json& json : {everything_config(), pooled_config()}) {
    const ImageDataset data = random_images(15, 2);
    std::vector<std::vector<float>> results;
    for (int64_t threads : {1, 7, 300}) {
      FusedRig rig(json, data, 5);
      rig.step->set_parallelism(threads);
      rig.step->run(rig.first_steps(3));
      EXPECT_EQ(rig.nonfinite, 0);
      results.push_back(rig.weights_and_meters());
    }
    EXPECT_TRUE(results[1] == results[0]);
    EXPECT_TRUE(results[2] == results[0]);
  }
}

// Stopped after 7 steps (a run ends there) and resumed: the same bits as 2
// uninterrupted epochs, as on the layer path (Note [exact resume]).
TEST(FusedStep, ResumesExactly) {
  const ImageDataset data = random_images(23, 8);
  const auto whole = train(Device::CPU, everything_config(), data, true);
  TempDir dir;
  Config config = Config::from_json(everything_config(), "test.json");
  config.training.fused_step = true;
  config.training.checkpoint = dir.file("w.safetensors");
  Context ctx(Device::CPU);
  Network net = Network::from_json(config.network, "test.json");
  net.setup(ctx, pass_batch_sizes(data.count, config.training.batch_size));
  Rng rng(config.training.seed);
  net.initialize(rng);
  TrainingState stopped;
  Safetensors optimizer_state;
  {
    Trainer first(ctx, config, net, rng);
    first.run_fused_on_cpu(true);
    first.stop_after_steps(7);
    std::ostringstream out;
    stopped = first.train(data, out);
    EXPECT_EQ(stopped.status, "stopped");
    EXPECT_EQ(stopped.steps, 7);
    optimizer_state = first.optimizer().export_state(net);
  }
  const std::vector<float> weights = net.download_parameters();
  const auto resumed =
      train(Device::CPU, everything_config(), data, true, 0, &stopped, &optimizer_state, &weights);
  EXPECT_EQ(resumed.state.steps, whole.state.steps);
  EXPECT_TRUE(resumed.weights == whole.weights) << max_difference(resumed.weights, whole.weights);
  EXPECT_TRUE(resumed.momentum == whole.momentum);
  // A stop the resumed run has already passed takes one step and stops, on
  // both paths (the fused run used to go on to its next boundary).
  nlohmann::json long_logs = everything_config();
  long_logs["training"]["log_every"] = 5;  // no log line ends the fused run at step 8
  for (bool fused : {false, true}) {
    const auto again =
        train(Device::CPU, long_logs, data, fused, 5, &stopped, &optimizer_state, &weights);
    EXPECT_EQ(again.state.status, "stopped") << "fused " << fused;
    EXPECT_EQ(again.state.steps, 8) << "fused " << fused;
  }
}

// The fused step counts NaN/Inf on the device and reads the count at log
// lines; a checkpoint between two log lines reads it first, so a diverged
// run stops with the error and no checkpoint holds its non-finite weights.
TEST(FusedStep, NoCheckpointHoldsNonFiniteWeights) {
  const ImageDataset data = random_images(40, 8);
  nlohmann::json json = everything_config();
  json["training"]["optimizer"]["lr"] = 1e30;
  json["training"]["schedule"] = {{"type", "constant"}};
  json["training"]["log_every"] = 8;  // one log line per epoch of 8 steps
  json["training"]["checkpoint_every_steps"] = 3;
  TempDir dir;
  const std::string path = dir.file("w.safetensors");
  EXPECT_THROW(train(Device::CPU, json, data, true, 0, nullptr, nullptr, nullptr, path),
               NumericalError);
  for (const std::string& file :
       {path, dir.file("w.step-3.safetensors"), dir.file("w.step-6.safetensors")}) {
    if (!std::filesystem::exists(file)) continue;
    for (const SafetensorsTensor& t : read_checkpoint(file).file.tensors) {
      if (t.dtype != DType::F32) continue;
      const Tensor v = t.view();
      for (int64_t i = 0; i < v.numel(); ++i)
        ASSERT_TRUE(std::isfinite(v.f32()[i])) << file << " " << t.name;
    }
  }
}

TEST(FusedStep, RefusesWhatItDoesNotTakeWithTheReason) {
  const Config tutorial = Config::from_json(tutorial_config(), "t.json");
  const Network net = Network::from_json(tutorial.network, "t.json");
  EXPECT_EQ(FusedStep::unsupported_reason(net, tutorial), "");

  Config rmsprop = tutorial;
  rmsprop.training.optimizer.type = "rmsprop";
  EXPECT_EQ(FusedStep::unsupported_reason(net, rmsprop),
            "it updates with SGD, Adam or AdamW; training.optimizer.type is rmsprop");
  Config amsgrad = tutorial;
  amsgrad.training.optimizer.type = "adam";
  amsgrad.training.optimizer.amsgrad = true;
  EXPECT_EQ(FusedStep::unsupported_reason(net, amsgrad),
            "it updates with Adam's own rule; training.optimizer.amsgrad is set");
  Config bf16 = tutorial;
  bf16.training.precision = Precision::BF16;
  EXPECT_NE(FusedStep::unsupported_reason(net, bf16).find("bf16"), std::string::npos);
  Config scaled = tutorial;
  scaled.training.loss_scale = 1024;
  EXPECT_NE(FusedStep::unsupported_reason(net, scaled).find("loss_scale"), std::string::npos);
  Config frozen = tutorial;
  frozen.training.freeze = {"conv1"};
  EXPECT_NE(FusedStep::unsupported_reason(net, frozen).find("freeze"), std::string::npos);

  nlohmann::json bn = tutorial_config();
  nlohmann::json& layers = bn["network"]["layers"];
  layers.insert(
      layers.begin() + 1,
      nlohmann::json::object({{"type", "batchnorm2d"}, {"name", "bn1"}, {"num_features", 6}}));
  const Network with_bn = Network::from_json(bn["network"], "bn.json");
  EXPECT_NE(FusedStep::unsupported_reason(with_bn, tutorial).find("layer 'bn1' (batchnorm2d)"),
            std::string::npos);

  // Through the CLI: one line naming the key and the layer, exit code 2 or more.
  TempDir dir;
  test::make_small_cifar(dir, 4, 4);
  test::write_text(dir.file("bn.json"), bn.dump());
  const test::RunResult r =
      test::run_cli("train " + dir.file("bn.json") + " --device cpu --fused-step --data " +
                    dir.path().string() + " --out " + dir.file("w.bin"));
  EXPECT_NE(r.exit_code, 0);
  EXPECT_NE(r.err.find("training.fused_step: layer 'bn1' (batchnorm2d) is not supported"),
            std::string::npos)
      << r.err;
}

// The config key is for GPUs: on the CPU the layer path trains (it is faster
// there), with a note; the refusals above hold on every device.
TEST(FusedStep, OnTheCpuTheLayerPathTrains) {
  TempDir dir;
  test::make_small_cifar(dir, 4, 4);
  const test::RunResult r =
      test::run_cli("train --device cpu --fused-step --epochs 1 --data " + dir.path().string() +
                    " --out " + dir.file("w.safetensors"));
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_NE(r.out.find("Fused step: for GPUs; the CPU runs the layer path"), std::string::npos)
      << r.out;
  EXPECT_EQ(r.out.find("fused step: "), std::string::npos) << r.out;
}

TEST(FusedStep, BenchTimesEachPhase) {
  const test::RunResult r = test::run_cli("bench --device cpu --fused-step --steps 3 --warmup 1");
  ASSERT_EQ(r.exit_code, 0) << r.err;
  for (const char* line : {"fused step: ", "fused step phases", "forward conv1", "loss",
                           "backward conv2", "update", "total (timed run)"})
    EXPECT_NE(r.out.find(line), std::string::npos) << line << "\n" << r.out;
  const test::RunResult bf16 =
      test::run_cli("bench --device cpu --fused-step --precision bf16 --steps 1");
  EXPECT_NE(bf16.exit_code, 0);
  EXPECT_NE(bf16.err.find("--fused-step: it computes in fp32; training.precision is bf16"),
            std::string::npos)
      << bf16.err;
}

}  // namespace
}  // namespace cnne
