// The fused step (Note [fused step] in engine/fused_step.h) against the layer
// path: the same training to rounding on the CPU, for the tutorial and for a
// network that uses every option it takes; the same result for any number of
// threads; exact resume; clear refusals. The GPU tests run the same phases in
// the cooperative kernel and compare them with the host's.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <cstring>
#include <memory>
#include <sstream>

#include "engine/config.h"
#include "engine/device_dataset.h"
#include "engine/fused_step.h"
#include "engine/loss_meter.h"
#include "engine/normalization.h"
#include "engine/optimizer.h"
#include "engine/schedule.h"
#include "engine/trainer.h"
#include "tests/test_util.h"

namespace cnne {
namespace {

using test::TempDir;

ImageDataset random_images(int64_t count, uint64_t seed) {
  ImageDataset data;
  data.count = count;
  Rng rng(seed);
  for (int64_t i = 0; i < count * 3072; ++i)
    data.pixels.push_back(static_cast<uint8_t>(rng.below(256)));
  for (int64_t i = 0; i < count; ++i) data.labels.push_back(static_cast<int32_t>(rng.below(10)));
  return data;
}

// A network with every option the fused step takes: a strided, padded conv
// without bias, an overlapping padded max-pool, a ReLU after the pool, a
// conv after that, a linear without bias; and a recipe with Nesterov, weight
// decay, a schedule, label smoothing, crop and flip, a partial last batch.
nlohmann::json everything_config() {
  return nlohmann::json::parse(R"({
    "network": {"name": "Everything", "input": [3, 32, 32], "layers": [
      {"type": "conv2d", "name": "conv1", "in_channels": 3, "out_channels": 5, "kernel_size": 3,
       "stride": 2, "padding": 1, "bias": false},
      {"type": "relu", "name": "relu1"},
      {"type": "maxpool2d", "name": "pool1", "kernel_size": 3, "stride": 2, "padding": 1},
      {"type": "relu", "name": "relu_after_pool"},
      {"type": "conv2d", "name": "conv2", "in_channels": 5, "out_channels": 4, "kernel_size": [2, 3],
       "padding": [0, 1]},
      {"type": "relu", "name": "relu2"},
      {"type": "flatten", "name": "flatten"},
      {"type": "linear", "name": "fc1", "in_features": 224, "out_features": 20, "bias": false},
      {"type": "relu", "name": "relu3"},
      {"type": "linear", "name": "fc2", "in_features": 20, "out_features": 10}]},
    "data": {"augment": {"crop_padding": 4, "horizontal_flip": true}},
    "training": {"epochs": 2, "batch_size": 5, "log_every": 3, "seed": 3,
      "label_smoothing": 0.1,
      "optimizer": {"type": "sgd", "lr": 0.05, "momentum": 0.9, "nesterov": true,
                    "weight_decay": 0.001},
      "schedule": {"type": "cosine"}}
  })");
}

// Tiling max-pools, which the fused step folds into the conv before and the
// stage after (Note [fused step]): one after a conv without ReLU and followed
// by a ReLU, one after a conv with ReLU and before a linear layer.
nlohmann::json pooled_config() {
  return nlohmann::json::parse(R"({
    "network": {"name": "Pooled", "input": [3, 32, 32], "layers": [
      {"type": "conv2d", "name": "conv1", "in_channels": 3, "out_channels": 4, "kernel_size": 3,
       "padding": 1},
      {"type": "maxpool2d", "name": "pool1", "kernel_size": 2},
      {"type": "relu", "name": "relu1"},
      {"type": "conv2d", "name": "conv2", "in_channels": 4, "out_channels": 6, "kernel_size": 3,
       "stride": 2, "padding": 1},
      {"type": "relu", "name": "relu2"},
      {"type": "maxpool2d", "name": "pool2", "kernel_size": [2, 4], "stride": [2, 4]},
      {"type": "flatten", "name": "flatten"},
      {"type": "linear", "name": "fc", "in_features": 48, "out_features": 10}]},
    "training": {"epochs": 2, "batch_size": 5, "log_every": 2, "seed": 7,
      "optimizer": {"type": "sgd", "lr": 0.05, "momentum": 0.9}}
  })");
}

nlohmann::json tutorial_config() {
  nlohmann::json j = parse_json_text(Config::embedded_default(), "simplecnn.json");
  j["training"]["log_every"] = 5;
  j["training"]["cuda_graph"] = false;
  return j;
}

struct Outcome {
  std::vector<float> weights, momentum;
  std::string log;
  TrainingState state;
};

Outcome train(Device device, const nlohmann::json& json, const ImageDataset& data, bool fused,
              int64_t stop_after = 0, const TrainingState* resume_from = nullptr,
              const Safetensors* optimizer_state = nullptr,
              const std::vector<float>* start_weights = nullptr,
              const std::string& checkpoint = "") {
  Config config = Config::from_json(json, "test.json");
  config.training.fused_step = fused;
  Context ctx(device);
  Network net = Network::from_json(config.network, "test.json");
  net.setup(ctx, pass_batch_sizes(data.count, config.training.batch_size));
  Rng rng(config.training.seed);
  net.initialize(rng);
  if (start_weights) net.upload_parameters(*start_weights);
  TempDir dir;
  config.training.checkpoint = checkpoint.empty() ? dir.file("w.safetensors") : checkpoint;
  Trainer trainer(ctx, config, net, rng);
  trainer.run_fused_on_cpu(true);
  if (resume_from) trainer.resume(*resume_from, *optimizer_state, "resume");
  if (stop_after) trainer.stop_after_steps(stop_after);
  std::ostringstream out;
  Outcome o;
  o.state = trainer.train(data, out);
  o.log = out.str();
  o.weights = net.download_parameters();
  const Tensor m = trainer.optimizer().state(0);
  o.momentum.resize(static_cast<size_t>(m.numel()));
  copy_tensor(m, Tensor(o.momentum.data(), m.shape));
  return o;
}

double max_difference(const std::vector<float>& a, const std::vector<float>& b) {
  EXPECT_EQ(a.size(), b.size());
  double worst = 0;
  for (size_t i = 0; i < a.size() && i < b.size(); ++i)
    worst = std::max(worst, std::abs(static_cast<double>(a[i]) - b[i]));
  return worst;
}

// The "[Epoch: e, Batch: b] Loss: x" values of a log.
std::vector<double> logged_losses(const std::string& log) {
  std::vector<double> losses;
  for (size_t at = log.find("Loss: "); at != std::string::npos; at = log.find("Loss: ", at + 1))
    losses.push_back(std::stod(log.substr(at + 6)));
  return losses;
}

void expect_same_training(const Outcome& fused, const Outcome& layers, double tol) {
  EXPECT_NE(fused.log.find("fused step: "), std::string::npos) << fused.log;
  EXPECT_LT(max_difference(fused.weights, layers.weights), tol);
  EXPECT_LT(max_difference(fused.momentum, layers.momentum), tol);
  const auto a = logged_losses(fused.log), b = logged_losses(layers.log);
  ASSERT_EQ(a.size(), b.size()) << fused.log << "\n" << layers.log;
  ASSERT_FALSE(a.empty());
  for (size_t i = 0; i < a.size(); ++i) EXPECT_NEAR(a[i], b[i], 0.0015) << "log line " << i;
  EXPECT_EQ(fused.state.steps, layers.state.steps);
  EXPECT_EQ(fused.state.epochs_completed, layers.state.epochs_completed);
  EXPECT_NEAR(fused.state.last_loss, layers.state.last_loss, 1e-4);
}

// The two paths add in different orders, so they agree to rounding until a
// value within rounding of a ReLU's zero or of a max-pool tie goes one way on
// one path and the other way on the other; after that one gradient element
// differs (about 1e-3 in the momentum). The data sets here (the seeds) meet
// no such value in these steps; the host-vs-GPU and thread-count tests are exact.
TEST(FusedStep, TrainsTheTutorialLikeTheLayerPath) {
  const ImageDataset data = random_images(4 * 12 + 2, 6);  // a partial last batch of 2
  const auto fused = train(Device::CPU, tutorial_config(), data, true);
  const auto layers = train(Device::CPU, tutorial_config(), data, false);
  expect_same_training(fused, layers, 1e-5);
  EXPECT_EQ(fused.state.steps, 26);
}

TEST(FusedStep, TrainsEveryOptionItTakesLikeTheLayerPath) {
  const ImageDataset data = random_images(23, 8);  // batches of 5, the last of 3
  const auto fused = train(Device::CPU, everything_config(), data, true);
  const auto layers = train(Device::CPU, everything_config(), data, false);
  expect_same_training(fused, layers, 1e-5);
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
    const Config config = Config::from_json(json, "test.json");
    const ImageDataset data = random_images(15, 2);
    std::vector<std::vector<float>> results;
    for (int64_t threads : {1, 7, 300}) {
      Context ctx(Device::CPU);
      Network net = Network::from_json(config.network, "test.json");
      net.setup(ctx, {5});
      Rng rng(1);
      net.initialize(rng);
      const auto optimizer = Optimizer::create(ctx, net, config.training.optimizer);
      DeviceDataset dataset(ctx, data, Normalization(config.data.mean, config.data.std));
      dataset.set_augment(config.data.augment, 4);
      Rng order(9);
      dataset.start_epoch(order, 0, true);
      LossMeter meter(ctx);
      int32_t nonfinite = 0;
      FusedStep step(ctx, net, *optimizer, dataset, config, meter.loss_sum(), meter.correct(),
                     Tensor(&nonfinite, Shape{1}));
      step.set_parallelism(threads);
      std::vector<FusedStepArgs> args;
      for (int64_t b = 0; b < 3; ++b) {
        FusedStepArgs a;
        a.batch = dataset.batch_args(b, 5);
        a.n = 5;
        StepScalars scalars;
        optimizer->write_step(scalars, StepRates{0.05, 0.9}, b);
        a.sgd = scalars.sgd;
        args.push_back(a);
      }
      step.run(args);
      EXPECT_EQ(nonfinite, 0);
      std::vector<float> out = net.download_parameters();
      out.push_back(static_cast<float>(meter.read().loss_sum));
      out.push_back(static_cast<float>(meter.read().correct));
      results.push_back(out);
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
}

TEST(FusedStep, RefusesWhatItDoesNotTakeWithTheReason) {
  const Config tutorial = Config::from_json(tutorial_config(), "t.json");
  const Network net = Network::from_json(tutorial.network, "t.json");
  EXPECT_EQ(FusedStep::unsupported_reason(net, tutorial), "");

  Config rmsprop = tutorial;
  rmsprop.training.optimizer.type = "rmsprop";  // (the config would refuse it first)
  EXPECT_NE(FusedStep::unsupported_reason(net, rmsprop).find("rmsprop"), std::string::npos);
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

// ---- on the GPU: the cooperative kernel against the host loop and the layer path

TEST(FusedStepGpu, TheKernelComputesWhatTheHostComputes) {
  REQUIRE_GPU();
  nlohmann::json adamw = everything_config();
  adamw["training"]["optimizer"] = {{"type", "adamw"}, {"lr", 0.002}};
  for (const nlohmann::json& json :
       {tutorial_config(), everything_config(), adamw, pooled_config()}) {
    const ImageDataset data = random_images(23, 8);
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
      FusedStepArgs a;
      a.batch = r.dataset->batch_args(0, config.training.batch_size);
      a.n = config.training.batch_size;
      StepScalars scalars;
      r.optimizer->write_step(scalars, StepRates{config.training.optimizer.lr, 0.9}, 0);
      a.sgd = scalars.sgd;
      a.adam = scalars.adam;
      r.step->run({a});
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
  const ImageDataset data = random_images(4 * 40, 6);
  const auto fused = train(Device::CUDA, tutorial_config(), data, true);
  const auto layers = train(Device::CUDA, tutorial_config(), data, false);
  expect_same_training(fused, layers, 1e-4);
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
