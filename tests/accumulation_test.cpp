// training.accumulate_steps (Note [gradient accumulation] in engine/trainer.cpp):
// the trainer against PyTorch's accumulation loop (tests/fixtures/
// accumulation_parity.safetensors, made by tools/make_accumulation_fixtures.py:
// BatchNorm, a short last group, OneCycleLR over the steps, clipping), against a
// batch K times larger in fp32 and fp16, and through the CLI: its flags and
// errors, the metrics log, stops inside an epoch and exact resumption.
#include <gtest/gtest.h>

#include <cmath>
#include <cstring>
#include <sstream>

#include "engine/checkpoint.h"
#include "engine/config.h"
#include "engine/device_dataset.h"
#include "engine/error.h"
#include "engine/network.h"
#include "engine/trainer.h"
#include "tests/test_util.h"

namespace cnne::test {
namespace {

struct TrainedRun {
  std::unique_ptr<Context> ctx;  // the network's
  std::unique_ptr<Network> net;  // as trained
  TrainingState state;
  std::vector<float> weights, buffers;
  std::string log;
};

// Trains `config` on `data` from weights `init` (a state_dict; null: seeded).
TrainedRun train(const nlohmann::json& config_json, const ImageDataset& data,
                 const Safetensors* init, Device device = Device::CPU) {
  Config config = Config::from_json(config_json, "test.json");
  TrainedRun r;
  r.ctx = std::make_unique<Context>(device);
  Context& ctx = *r.ctx;
  r.net = std::make_unique<Network>(Network::from_json(config.network, "test.json"));
  Network& net = *r.net;
  net.set_precision(config.training.precision);
  net.setup(ctx, pass_batch_sizes(data.count, config.training.batch_size));
  Rng rng(config.training.seed);
  net.initialize(rng);
  if (init) load_weights(*init, "fixture init", net);
  TempDir dir;
  config.training.checkpoint = dir.file("w.safetensors");
  Trainer trainer(ctx, config, net, rng);
  std::ostringstream out;
  r.state = trainer.train(data, out);
  r.log = out.str();
  r.weights = net.download_parameters();
  r.buffers = net.download_buffers();
  return r;
}

// Each recipe of the fixture on `device`: final weights, running statistics and counters.
void expect_pytorch_parity(Device device, double tolerance) {
  const Safetensors fx = load_safetensors(fixtures_dir() + "/accumulation_parity.safetensors");
  const nlohmann::json network = nlohmann::json::parse(fx.metadata.at("network"));
  const nlohmann::json recipes = nlohmann::json::parse(fx.metadata.at("recipes"));
  const ImageDataset data = fixture_images(fx);
  const Safetensors init = strip_prefix(fx, "init.");
  const int64_t epochs = std::stoll(fx.metadata.at("epochs"));
  const int64_t batch = std::stoll(fx.metadata.at("batch"));
  const int64_t batches = (data.count + batch - 1) / batch;
  ASSERT_EQ(recipes.size(), 3u);
  for (const auto& [recipe, spec] : recipes.items()) {
    nlohmann::json training = spec;
    training["epochs"] = epochs;
    training["batch_size"] = batch;
    const nlohmann::json config = {
        {"network", network}, {"data", {{"shuffle", false}}}, {"training", training}};
    const TrainedRun r = train(config, data, &init, device);
    const Network& net = *r.net;
    const int64_t k = spec.at("accumulate_steps");
    EXPECT_EQ(r.state.steps, epochs * ((batches + k - 1) / k)) << recipe;
    if (k > 1) {
      EXPECT_NE(r.log.find("Gradient accumulation: a step per "), std::string::npos);
    }
    std::vector<std::string> problems;
    for (const NamedParam& p : net.parameters())
      problems.push_back(first_mismatch_with_pytorch(
          recipe + " " + p.name, r.weights.data() + p.offset,
          fx.find(recipe + ".final." + p.name)->view().f32(), p.shape.numel(), tolerance));
    for (const NamedParam& b : net.buffers())
      problems.push_back(first_mismatch_with_pytorch(
          recipe + " " + b.name, r.buffers.data() + b.offset,
          fx.find(recipe + ".final." + b.name)->view().f32(), b.shape.numel(), tolerance));
    for (const std::string& p : problems)
      if (!p.empty()) ADD_FAILURE() << p;
    // BatchNorm counts its forwards, one per batch, however many batches a step takes.
    for (size_t l = 0; l < net.layer_count(); ++l)
      for (const auto& [name, value] : net.layer(l).counters()) {
        int64_t want = -1;
        std::memcpy(
            &want, fx.find(recipe + ".final." + net.layer(l).name() + "." + name)->bytes.data(), 8);
        EXPECT_EQ(value, want) << recipe << " " << net.layer(l).name() << "." << name;
        EXPECT_EQ(value, epochs * batches);
      }
  }
}

TEST(GradientAccumulation, MatchesPyTorchsAccumulationLoop) {
  expect_pytorch_parity(Device::CPU, 2e-5);
}

TEST(GradientAccumulation, MatchesPyTorchsAccumulationLoopOnTheGpu) {
  REQUIRE_GPU();
  expect_pytorch_parity(Device::CUDA, 2e-4);  // cuDNN's algorithms sum in other orders
}

// A network without BatchNorm: a step over K batches of B is a step over one of K * B.
nlohmann::json chain_config(int64_t batch, int64_t k, const char* precision) {
  return {{"network",
           {{"input", {3, 8, 8}},
            {"layers",
             {{{"type", "conv2d"}, {"in_channels", 3}, {"out_channels", 6}, {"kernel_size", 3}},
              {{"type", "relu"}},
              {{"type", "maxpool2d"}, {"kernel_size", 2}},
              {{"type", "flatten"}},
              {{"type", "linear"}, {"in_features", 54}, {"out_features", 10}}}}}},
          {"training",
           {{"epochs", 2},
            {"batch_size", batch},
            {"accumulate_steps", k},
            {"precision", precision},
            {"seed", 3},
            {"optimizer", {{"type", "sgd"}, {"lr", 0.1}, {"momentum", 0.9}}}}}};
}

ImageDataset random_images(int64_t count) {
  return random_image_set(count, 3, 8, 8, 11);
}

double distance(const std::vector<float>& a, const std::vector<float>& b) {
  double sum = 0;
  for (size_t i = 0; i < a.size(); ++i) sum += (double(a[i]) - b[i]) * (double(a[i]) - b[i]);
  return std::sqrt(sum);
}

TEST(GradientAccumulation, StepsLikeABatchKTimesLarger) {
  const ImageDataset data = random_images(32);  // 4 steps of 8 per epoch, shuffled
  Context ctx(Device::CPU);
  std::vector<float> start;
  {
    Network net = Network::from_json(chain_config(8, 1, "fp32")["network"], "test.json");
    net.setup(ctx, {8});
    Rng rng(3);
    net.initialize(rng);
    start = net.download_parameters();
  }
  for (const char* precision : {"fp32", "fp16"}) {
    const TrainedRun large = train(chain_config(8, 1, precision), data, nullptr);
    const TrainedRun accumulated = train(chain_config(4, 2, precision), data, nullptr);
    const TrainedRun small = train(chain_config(4, 1, precision), data, nullptr);
    EXPECT_EQ(large.state.steps, 8);
    EXPECT_EQ(accumulated.state.steps, 8);
    EXPECT_EQ(small.state.steps, 16);
    const double moved = distance(large.weights, start);
    ASSERT_GT(moved, 0.1) << precision;
    // fp32: the same sums in another order. fp16: each batch's activations round on their own,
    // and the accumulated gradient is unscaled once (twice, or never, would be far off).
    const double tolerance = std::string(precision) == "fp32" ? 1e-5 : 2e-2;
    EXPECT_LT(distance(accumulated.weights, large.weights), tolerance * moved) << precision;
    EXPECT_GT(distance(small.weights, large.weights), 10 * tolerance * moved) << precision;
  }
}

TEST(GradientAccumulation, ConfigAndFlagErrorsNameTheKey) {
  nlohmann::json j = chain_config(4, 0, "fp32");
  try {
    Config::from_json(j, "acc.json");
    ADD_FAILURE() << "accumulate_steps 0 was accepted";
  } catch (const ConfigError& e) {
    EXPECT_NE(std::string(e.what()).find("acc.json: training: key 'accumulate_steps' must be in "
                                         "1..65536"),
              std::string::npos)
        << e.what();
  }
  j["training"]["accumulate_steps"] = 2.5;
  EXPECT_THROW(Config::from_json(j, "acc.json"), ConfigError);
  j["training"]["accumulate_steps"] = 4;
  Config c = Config::from_json(j, "acc.json");
  EXPECT_EQ(c.training.accumulate_steps, 4);
  EXPECT_EQ(Config::from_json(c.to_json(), "again").training.accumulate_steps, 4);
  EXPECT_EQ(Config::from_json(parse_json_text(Config::embedded_default(), "simplecnn.json"), "t")
                .training.accumulate_steps,
            1);
  Overrides o;
  o.accumulate_steps = 8;
  apply_overrides(c, o);
  EXPECT_EQ(c.training.accumulate_steps, 8);
  o.accumulate_steps = 0;
  EXPECT_THROW(apply_overrides(c, o), UsageError);

  // The fused step takes a step per batch, and says so.
  const ImageDataset data = random_images(8);
  j["training"]["fused_step"] = true;
  try {
    train(j, data, nullptr);
    ADD_FAILURE() << "the fused step accepted accumulate_steps";
  } catch (const ConfigError& e) {
    EXPECT_NE(std::string(e.what()).find("training.fused_step: it steps after every batch; "
                                         "training.accumulate_steps is set"),
              std::string::npos)
        << e.what();
  }
}

TEST(GradientAccumulation, CliStopsBetweenGroupsAndResumesExactly) {
  TempDir data, out;
  make_small_cifar(data, 8, 10);  // 40 training images: 10 batches of 4, steps of 3, 3, 3, 1
  const std::string flags =
      "train --device cpu --log-every 2 --batch-size 4 --accumulate-steps 3 "
      "--deterministic --no-eval --data " +
      data.path().string();
  const std::string common = flags + " --epochs 2";
  const RunResult full = run_cli(common + " --out " + out.file("full.safetensors") + " --metrics " +
                                 out.file("m.jsonl"));
  ASSERT_EQ(full.exit_code, 0) << full.err;
  EXPECT_NE(full.out.find("Gradient accumulation: a step per 3 batches of 4 (effective batch 12), "
                          "4 steps per epoch\n"),
            std::string::npos)
      << full.out;
  EXPECT_NE(full.out.find("[Epoch: 1, Batch: 2] Loss: "), std::string::npos) << full.out;
  int64_t last_step = -1;
  std::istringstream log(read_text(out.file("m.jsonl")));
  for (std::string line; std::getline(log, line);) {
    const nlohmann::json record = nlohmann::json::parse(line);
    if (record["event"] == "start") {
      EXPECT_EQ(record["accumulate_steps"], 3);
      EXPECT_EQ(record["batches_per_epoch"], 10);
      EXPECT_EQ(record["steps_per_epoch"], 4);
    }
    if (record["event"] == "loss" && record["epoch"] == 1 && record["batch"] == 2) {
      EXPECT_EQ(record["step"], 0);  // the first group's step has not been taken yet
    }
    if (record["event"] == "end") last_step = record["step"];
  }
  EXPECT_EQ(last_step, 8);

  // Stopped after 2 steps (6 batches), resumed: the same weights as the run without a stop.
  const std::string part = out.file("part.safetensors");
  const RunResult first = run_cli(common + " --stop-after-steps 2 --out " + part);
  ASSERT_EQ(first.exit_code, 0) << first.err;
  EXPECT_NE(first.out.find("Stopped after 2 steps"), std::string::npos) << first.out;
  // Inside an epoch the group size cannot change: the steps would fall elsewhere.
  const RunResult changed = run_cli("train --resume " + part + " --device cpu --data " +
                                    data.path().string() + " --accumulate-steps 2");
  EXPECT_EQ(changed.exit_code, 2);
  EXPECT_NE(changed.err.find("cannot change accumulate_steps when resuming in the middle of an "
                             "epoch (the checkpoint stopped at batch 6)"),
            std::string::npos)
      << changed.err;
  const RunResult rest =
      run_cli("train --resume " + part + " --device cpu --no-eval --data " + data.path().string());
  ASSERT_EQ(rest.exit_code, 0) << rest.err;
  EXPECT_NE(rest.out.find("6 batches done, step 2"), std::string::npos) << rest.out;
  EXPECT_EQ(digest_of(part), digest_of(out.file("full.safetensors")));
  EXPECT_EQ(loss_lines(first.out) + loss_lines(rest.out), loss_lines(full.out));

  // At an epoch boundary it can.
  const std::string epoch = out.file("epoch.safetensors");
  ASSERT_EQ(run_cli(flags + " --epochs 1 --out " + epoch).exit_code, 0);
  const RunResult wider = run_cli("train --resume " + epoch + " --device cpu --no-eval --data " +
                                  data.path().string() + " --epochs 2 --accumulate-steps 5");
  ASSERT_EQ(wider.exit_code, 0) << wider.err;
  EXPECT_NE(wider.out.find("Recipe change on resume: training.accumulate_steps 3 -> 5"),
            std::string::npos)
      << wider.out;
  EXPECT_NE(wider.out.find("2 steps per epoch"), std::string::npos) << wider.out;

  const RunResult bad =
      run_cli(common + " --accumulate-steps 0 --out " + out.file("b.safetensors"));
  EXPECT_EQ(bad.exit_code, 2);
  EXPECT_NE(bad.err.find("accumulate-steps"), std::string::npos) << bad.err;
}

}  // namespace
}  // namespace cnne::test
