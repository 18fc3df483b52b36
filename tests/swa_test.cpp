// training.swa (Note [stochastic weight averaging] in engine/swa_config.h):
// the trainer against torch.optim.swa_utils (tests/fixtures/swa_parity.safetensors,
// made by tools/make_swa_fixtures.py: AveragedModel, SWALR beside CosineAnnealingLR
// or StepLR, update_bn), SWALR's closed form, config errors, and through the CLI:
// the checkpoint is the average with recomputed statistics, and stops at or inside
// an epoch resume exactly.
#include <gtest/gtest.h>

#include <cmath>
#include <cstring>
#include <sstream>

#include "engine/checkpoint.h"
#include "engine/config.h"
#include "engine/device_dataset.h"
#include "engine/error.h"
#include "engine/network.h"
#include "engine/schedule.h"
#include "engine/trainer.h"
#include "tests/test_util.h"

namespace cnne::test {
namespace {

// Every tensor of `net`'s layout in `weights` / `buffers` against the fixture's `prefix`.
void expect_tensors(const Safetensors& fx, const std::string& prefix, const Network& net,
                    const std::vector<float>& weights, const std::vector<float>& buffers,
                    double tolerance) {
  std::vector<std::string> problems;
  for (const NamedParam& p : net.parameters())
    problems.push_back(first_mismatch_with_pytorch(prefix + p.name, weights.data() + p.offset,
                                                   fx.find(prefix + p.name)->view().f32(),
                                                   p.shape.numel(), tolerance));
  for (const NamedParam& b : net.buffers())
    problems.push_back(first_mismatch_with_pytorch(prefix + b.name, buffers.data() + b.offset,
                                                   fx.find(prefix + b.name)->view().f32(),
                                                   b.shape.numel(), tolerance));
  for (const std::string& p : problems)
    if (!p.empty()) ADD_FAILURE() << p;
}

void expect_pytorch_parity(Device device, double tolerance) {
  const Safetensors fx = load_safetensors(fixtures_dir() + "/swa_parity.safetensors");
  const nlohmann::json network = nlohmann::json::parse(fx.metadata.at("network"));
  const nlohmann::json recipes = nlohmann::json::parse(fx.metadata.at("recipes"));
  const ImageDataset data = fixture_images(fx);
  const Safetensors init = strip_prefix(fx, "init.");
  const int64_t batch = std::stoll(fx.metadata.at("batch"));
  ASSERT_EQ(recipes.size(), 2u);
  for (const auto& [recipe, spec] : recipes.items()) {
    nlohmann::json training = spec;
    training["batch_size"] = batch;
    const nlohmann::json config_json = {
        {"network", network}, {"data", {{"shuffle", false}}}, {"training", training}};
    Config config = Config::from_json(config_json, "swa.json");
    Context ctx(device);
    Network net = Network::from_json(config.network, "swa.json");
    net.setup(ctx, pass_batch_sizes(data.count, batch));
    Rng rng(0);
    net.initialize(rng);
    load_weights(init, "fixture init", net);
    TempDir dir;
    config.training.checkpoint = dir.file("w.safetensors");
    Trainer trainer(ctx, config, net, rng);
    std::ostringstream out;
    const TrainingState state = trainer.train(data, out);
    EXPECT_EQ(state.status, "complete");
    EXPECT_NE(out.str().find("Stochastic weight averaging: the weights at the end of epochs "),
              std::string::npos)
        << out.str();
    const int64_t epochs = spec.at("epochs"), start = spec.at("swa").at("start_epoch");
    ASSERT_NE(trainer.average(), nullptr);
    EXPECT_EQ(trainer.average()->updates(), epochs - start + 1) << recipe;

    // The rate of every epoch: the main schedule, then SWALR.
    LrSchedule schedule(config.training.schedule, config.training.optimizer, epochs, 1);
    schedule.set_swa(config.training.swa);
    const float* lrs = fx.find(recipe + ".lr")->view().f32();
    for (int64_t e = 0; e < epochs; ++e)
      EXPECT_NEAR(schedule.at(e, 0).lr, lrs[e], 1e-7 * lrs[e]) << recipe << " epoch " << e + 1;

    // The model PyTorch trained, and swa_model after update_bn.
    expect_tensors(fx, recipe + ".trained.", net, net.download_parameters(), net.download_buffers(),
                   tolerance);
    std::vector<float> average, statistics;
    with_average(trainer.average(), net, [&] {
      average = net.download_parameters();
      statistics = net.download_buffers();
    });
    expect_tensors(fx, recipe + ".average.", net, average, statistics, tolerance);
    // The training weights are back, and differ from the average.
    EXPECT_NE(net.download_parameters(), average);
  }
}

TEST(Swa, MatchesTorchSwaUtils) {
  expect_pytorch_parity(Device::CPU, 2e-5);
}

TEST(Swa, MatchesTorchSwaUtilsOnTheGpu) {
  REQUIRE_GPU();
  expect_pytorch_parity(Device::CUDA, 2e-4);  // cuDNN's algorithms sum in other orders
}

TEST(Swa, SwalrClosedForm) {
  SwaConfig swa;
  swa.start_epoch = 3;
  swa.lr = 0.01;
  swa.anneal_epochs = 4;
  EXPECT_DOUBLE_EQ(swa_learning_rate(swa, 0.1, 2), 0.01 * 0.5 + 0.1 * 0.5);  // cos at t = 1/2
  EXPECT_DOUBLE_EQ(swa_learning_rate(swa, 0.1, 4), 0.01);
  EXPECT_DOUBLE_EQ(swa_learning_rate(swa, 0.1, 40), 0.01);
  swa.anneal_strategy = "linear";
  EXPECT_DOUBLE_EQ(swa_learning_rate(swa, 0.1, 1), 0.01 * 0.25 + 0.1 * 0.75);
  swa.anneal_epochs = 0;  // straight to swa_lr
  EXPECT_DOUBLE_EQ(swa_learning_rate(swa, 0.1, 1), 0.01);

  // A cosine of t_max 0 still spans the whole run; SWALR starts from its rate at start_epoch.
  ScheduleConfig cosine;
  cosine.type = "cosine";
  OptimizerConfig sgd;
  sgd.lr = 0.1;
  LrSchedule schedule(cosine, sgd, 10, 5);
  swa.anneal_epochs = 2;
  swa.start_epoch = 5;
  schedule.set_swa(swa);
  const double at_start = 0.1 * (1 + std::cos(M_PI * 4 / 10)) / 2;
  EXPECT_NEAR(schedule.at(4, 0).lr, at_start, 1e-15);
  EXPECT_NEAR(schedule.at(5, 0).lr, 0.01 * 0.5 + at_start * 0.5, 1e-15);
  EXPECT_NEAR(schedule.at(6, 999).lr, 0.01, 1e-15);
  ScheduleConfig onecycle;
  onecycle.type = "onecycle";
  onecycle.unit = "step";
  onecycle.max_lr = 1;
  LrSchedule steps(onecycle, sgd, 10, 5);
  EXPECT_THROW(steps.set_swa(swa), ConfigError);
}

nlohmann::json small_config() {
  nlohmann::json network = conv_bn_head_network(8);
  return {{"network", network},
          {"training",
           {{"epochs", 4},
            {"batch_size", 4},
            {"optimizer", {{"type", "sgd"}, {"lr", 0.05}, {"momentum", 0.9}}},
            {"swa", {{"start_epoch", 2}, {"lr", 0.01}}}}}};
}

// The ConfigError text of `j`, or "" when it is accepted.
std::string config_error(const nlohmann::json& j) {
  try {
    Config::from_json(j, "swa.json");
  } catch (const ConfigError& e) {
    return e.what();
  }
  return "";
}

TEST(Swa, ConfigErrorsNameTheKey) {
  nlohmann::json j = small_config();
  const Config c = Config::from_json(j, "swa.json");
  EXPECT_EQ(c.training.swa.start_epoch, 2);
  EXPECT_EQ(c.training.swa.anneal_epochs, 10);
  EXPECT_EQ(c.training.swa.anneal_strategy, "cos");
  EXPECT_EQ(Config::from_json(c.to_json(), "again").training.swa.to_json(),
            c.training.swa.to_json());
  // Off by default, and absent from the JSON of a config without it.
  const Config plain =
      Config::from_json(parse_json_text(Config::embedded_default(), "simplecnn.json"), "t");
  EXPECT_FALSE(plain.training.swa.enabled());
  EXPECT_FALSE(plain.to_json()["training"].contains("swa"));

  const auto expect_error = [&](nlohmann::json bad, const std::string& text) {
    const std::string e = config_error(bad);
    EXPECT_NE(e.find(text), std::string::npos) << "got: " << e;
  };
  nlohmann::json bad = j;
  bad["training"]["swa"]["start_epoch"] = 0;
  expect_error(bad, "swa.json: training.swa: key 'start_epoch' must be >= 1");
  bad = j;
  bad["training"]["swa"]["start_epoch"] = 5;
  expect_error(bad, "start_epoch 5 is after the last epoch (4)");
  bad = j;
  bad["training"]["swa"].erase("lr");
  expect_error(bad, "training.swa");
  bad = j;
  bad["training"]["swa"]["lr"] = -1;
  expect_error(bad, "key 'lr' must be a positive number (SWALR's swa_lr)");
  bad = j;
  bad["training"]["swa"]["anneal_strategy"] = "exp";
  expect_error(bad, "key 'anneal_strategy' is 'exp', expected \"cos\" or \"linear\"");
  bad = j;
  bad["training"]["swa"]["anneal"] = 3;
  expect_error(bad, "anneal");
  bad = j;
  bad["training"]["ema_decay"] = 0.99;
  expect_error(bad, "and ema_decay (--ema) both average the weights: choose one");
  bad = j;
  bad["training"]["schedule"] = {{"type", "onecycle"}, {"max_lr", 0.1}};
  expect_error(bad, "needs a schedule of unit \"epoch\" other than plateau");
  bad = j;
  bad["training"]["schedule"] = {{"type", "plateau"}};
  bad["eval"] = {{"every_epochs", 1}};
  expect_error(bad, "needs a schedule of unit \"epoch\" other than plateau");

  // Overrides that make it impossible are refused by the trainer, naming the key.
  Config shorter = Config::from_json(j, "swa.json");
  shorter.training.epochs = 1;
  Context ctx(Device::CPU);
  Network net = Network::from_json(shorter.network, "swa.json");
  net.setup(ctx, {4});
  Rng rng(0);
  net.initialize(rng);
  try {
    Trainer trainer(ctx, shorter, net, rng);
    ADD_FAILURE() << "start_epoch after the last epoch was accepted";
  } catch (const ConfigError& e) {
    EXPECT_NE(std::string(e.what()).find("training.swa start_epoch 2 is after the last epoch (1)"),
              std::string::npos)
        << e.what();
  }
  Config with_ema = Config::from_json(j, "swa.json");
  with_ema.training.ema_decay = 0.9;
  EXPECT_THROW(Trainer(ctx, with_ema, net, rng), ConfigError);

  // The flags --swa-start E and --swa-lr X.
  Config tutorial =
      Config::from_json(parse_json_text(Config::embedded_default(), "simplecnn.json"), "t");
  const auto usage_error = [](Config config, const Overrides& o) -> std::string {
    try {
      apply_overrides(config, o);
    } catch (const UsageError& e) {
      return e.what();
    }
    return "";
  };
  Overrides start_only;
  start_only.swa_start = 2;
  EXPECT_NE(
      usage_error(tutorial, start_only).find("--swa-start needs SWALR's rate: pass --swa-lr X"),
      std::string::npos);
  Overrides rate_only;
  rate_only.swa_lr = 0.01;
  EXPECT_NE(usage_error(tutorial, rate_only).find("--swa-lr needs --swa-start E"),
            std::string::npos);
  Overrides late = start_only;
  late.swa_lr = 0.01;
  late.swa_start = 3;
  EXPECT_NE(usage_error(tutorial, late)
                .find("--swa-start/--swa-lr: training.swa start_epoch 3 is "
                      "after the last epoch (2)"),
            std::string::npos);
  Overrides both = late;
  both.swa_start = 2;
  Config flagged = tutorial;
  apply_overrides(flagged, both);
  EXPECT_EQ(flagged.training.swa.start_epoch, 2);
  EXPECT_EQ(flagged.training.swa.lr, 0.01);
  EXPECT_EQ(flagged.training.swa.anneal_epochs, 10);
  Overrides off;
  off.swa_start = 0;
  apply_overrides(flagged, off);
  EXPECT_FALSE(flagged.training.swa.enabled());

  // The fused step does not average, and says so.
  nlohmann::json fused = j;
  fused["network"] = {
      {"input", {3, 8, 8}},
      {"layers",
       {{{"type", "conv2d"}, {"in_channels", 3}, {"out_channels", 4}, {"kernel_size", 3}},
        {{"type", "flatten"}},
        {{"type", "linear"}, {"in_features", 144}, {"out_features", 10}}}}};
  fused["training"]["fused_step"] = true;
  const Config fused_config = Config::from_json(fused, "swa.json");
  Network chain = Network::from_json(fused_config.network, "swa.json");
  chain.setup(ctx, {4});
  chain.initialize(rng);
  ImageDataset data;
  data.count = 4;
  data.height = data.width = 8;
  data.pixels.assign(4 * 3 * 8 * 8, 7);
  data.labels = {0, 1, 2, 3};
  Trainer trainer(ctx, fused_config, chain, rng);
  std::ostringstream out;
  try {
    trainer.train(data, out);
    ADD_FAILURE() << "the fused step accepted training.swa";
  } catch (const ConfigError& e) {
    EXPECT_NE(std::string(e.what()).find("training.fused_step: it does not average the weights; "
                                         "training.swa is set"),
              std::string::npos)
        << e.what();
  }
}

std::string evaluation_line(const std::string& out) {
  const size_t at = out.find("Accuracy of the network on the ");
  return at == std::string::npos ? "" : out.substr(at, out.find('\n', at) - at);
}

TEST(Swa, CliCheckpointIsTheAverageAndResumesExactly) {
  TempDir data, out;
  make_small_cifar(data, 8, 10);  // 40 training images: 10 steps of 4 per epoch
  nlohmann::json config = small_config();
  config["network"] = conv_bn_head_network(32);
  config["training"]["swa"]["anneal_epochs"] = 1;
  config["training"]["log_every"] = 5;
  const std::string path = out.file("swa.json");
  write_text(path, config.dump());
  const std::string common =
      "train " + path + " --device cpu --deterministic --data " + data.path().string();
  const std::string full_path = out.file("full.safetensors");
  const RunResult full =
      run_cli(common + " --out " + full_path + " --metrics " + out.file("m.jsonl"));
  ASSERT_EQ(full.exit_code, 0) << full.err;
  EXPECT_NE(full.out.find("Stochastic weight averaging: the weights at the end of epochs 2..4 "
                          "averaged equally, lr annealed (cos) to 0.01 over 1 epochs; its "
                          "BatchNorm statistics recomputed over the training images; "),
            std::string::npos)
      << full.out;
  EXPECT_NE(full.out.find("SWA: the weights of epoch 2 averaged in (1 epoch in the average)"),
            std::string::npos)
      << full.out;
  EXPECT_NE(full.out.find("SWA: the weights of epoch 4 averaged in (3 epochs in the average)"),
            std::string::npos)
      << full.out;
  EXPECT_NE(full.out.find("lr 0.01\n"), std::string::npos) << full.out;  // epochs 3 and 4
  // The same run from flags: the config without training.swa, --swa-start 2 --swa-lr 0.01.
  nlohmann::json without = config;
  without["training"].erase("swa");
  write_text(out.file("plain.json"), without.dump());
  const std::string flagged_path = out.file("flagged.safetensors");
  const RunResult flagged = run_cli(
      "train " + out.file("plain.json") + " --device cpu --deterministic --no-eval --data " +
      data.path().string() + " --swa-start 2 --swa-lr 0.01 --out " + flagged_path);
  ASSERT_EQ(flagged.exit_code, 0) << flagged.err;
  EXPECT_NE(flagged.out.find("Stochastic weight averaging: the weights at the end of epochs 2..4"),
            std::string::npos)
      << flagged.out;
  const RunResult refused = run_cli("train " + out.file("plain.json") + " --device cpu --data " +
                                    data.path().string() + " --swa-start 2");
  EXPECT_EQ(refused.exit_code, 2);
  EXPECT_NE(refused.err.find("--swa-start needs SWALR's rate"), std::string::npos) << refused.err;
  int64_t epochs_logged = 0;
  std::istringstream log(read_text(out.file("m.jsonl")));
  for (std::string line; std::getline(log, line);) {
    const nlohmann::json record = nlohmann::json::parse(line);
    if (record["event"] == "epoch") {
      ++epochs_logged;
      EXPECT_EQ(record["swa_models"], std::max<int64_t>(0, record["epoch"].get<int64_t>() - 1));
    }
  }
  EXPECT_EQ(epochs_logged, 4);
  // The training weights are in the optimizer file, marked as the equal average's.
  const Checkpoint saved = read_checkpoint(full_path);
  const Safetensors optimizer = load_safetensors(out.file(saved.state.optimizer_file));
  EXPECT_EQ(optimizer.metadata.at("weight_average"), "swa");
  EXPECT_EQ(optimizer.metadata.at("ema_updates"), "3");
  EXPECT_NE(optimizer.find("training_weights.fc.weight"), nullptr);
  EXPECT_NE(optimizer.find("training_weights.bn.running_mean"), nullptr);

  const RunResult inspected = run_cli("inspect " + full_path);
  ASSERT_EQ(inspected.exit_code, 0) << inspected.err;
  EXPECT_NE(inspected.out.find("weights: a stochastic weight average of 3 epochs (training.swa); "
                               "the training weights are in the optimizer state"),
            std::string::npos)
      << inspected.out;

  // `eval` on the checkpoint measures what training reported: the average, with its statistics.
  const std::string reported = evaluation_line(full.out);
  ASSERT_FALSE(reported.empty()) << full.out;
  const RunResult evaluated =
      run_cli("eval --checkpoint " + full_path + " --device cpu --data " + data.path().string());
  ASSERT_EQ(evaluated.exit_code, 0) << evaluated.err;
  EXPECT_EQ(evaluation_line(evaluated.out), reported);

  // Stopped at the last step of epoch 2 (before its update) and inside epoch 3, then
  // resumed: the same average and statistics as the run without a stop.
  for (const int64_t stop : {20, 25}) {
    const std::string part = out.file("part" + std::to_string(stop) + ".safetensors");
    const RunResult first = run_cli(common + " --no-eval --stop-after-steps " +
                                    std::to_string(stop) + " --out " + part);
    ASSERT_EQ(first.exit_code, 0) << first.err;
    const RunResult rest =
        run_cli("train --resume " + part + " --device cpu --data " + data.path().string());
    ASSERT_EQ(rest.exit_code, 0) << rest.err;
    EXPECT_EQ(digest_of(part), digest_of(full_path)) << "stopped after step " << stop;
    EXPECT_EQ(evaluation_line(rest.out), reported) << rest.out;
    EXPECT_EQ(loss_lines(first.out) + loss_lines(rest.out), loss_lines(full.out));
  }
}

}  // namespace
}  // namespace cnne::test
