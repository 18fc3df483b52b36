// Training features beyond the tutorial: evaluation during training with the
// best checkpoint kept, test-time flip averaging, and the example configs.
#include <gtest/gtest.h>

#include <algorithm>
#include <filesystem>
#include <string>
#include <vector>

#include "engine/config.h"
#include "engine/error.h"
#include "engine/evaluator.h"
#include "engine/normalization.h"
#include "tests/test_util.h"

namespace cnne::test {
namespace {

Config tutorial() {
  return Config::from_json(parse_json_text(Config::embedded_default(), "simplecnn.json"),
                           "simplecnn.json");
}

TEST(TestTimeFlip, EqualsPlainEvaluationOnMirrorSymmetricImages) {
  Context ctx(Device::CPU);
  const Config config = tutorial();
  Network net = Network::from_json(config.network, "simplecnn.json");
  net.setup(ctx, {5});
  Rng rng(3);
  net.initialize(rng);
  ImageDataset symmetric, random;
  symmetric.count = random.count = 10;
  for (int64_t i = 0; i < 10; ++i) {
    symmetric.labels.push_back(static_cast<int32_t>(i % 10));
    random.labels.push_back(static_cast<int32_t>(i % 10));
    for (int64_t c = 0; c < 3; ++c)
      for (int64_t y = 0; y < 32; ++y)
        for (int64_t x = 0; x < 32; ++x) {
          symmetric.pixels.push_back(
              static_cast<uint8_t>((i * 31 + c * 7 + y * 5 + std::min(x, 31 - x) * 3) % 256));
          random.pixels.push_back(static_cast<uint8_t>(rng.below(256)));
        }
  }
  const Normalization norm(config.data.mean, config.data.std);
  const Evaluation plain = evaluate(ctx, net, symmetric, norm, 5, false);
  const Evaluation flipped = evaluate(ctx, net, symmetric, norm, 5, true);
  EXPECT_NEAR(flipped.mean_loss, plain.mean_loss, 1e-6);
  EXPECT_EQ(flipped.confusion.correct(), plain.confusion.correct());
  // On asymmetric images the mirror view changes the logits, so the loss moves.
  EXPECT_NE(evaluate(ctx, net, random, norm, 5, true).mean_loss,
            evaluate(ctx, net, random, norm, 5, false).mean_loss);
}

TEST(Evaluation, RunsInEvaluationModeAndLeavesTheModeAsItWas) {
  Context ctx(Device::CPU);
  Network net = Network::from_json(conv_bn_head_network(32, 0.9), "noisy.json");
  net.setup(ctx, {5});
  Rng rng(2);
  net.initialize(rng);
  ImageDataset data;
  data.count = 10;
  for (int64_t i = 0; i < 10 * 3072; ++i)
    data.pixels.push_back(static_cast<uint8_t>(rng.below(256)));
  for (int64_t i = 0; i < 10; ++i) data.labels.push_back(static_cast<int32_t>(i));
  const Normalization norm({0.5, 0.5, 0.5}, {0.5, 0.5, 0.5});
  const std::vector<float> stats = net.download_buffers();
  const Evaluation a = evaluate(ctx, net, data, norm, 5);
  const Evaluation b = evaluate(ctx, net, data, norm, 3);  // other batches: same answer
  EXPECT_NEAR(a.mean_loss, b.mean_loss, 1e-6);             // no dropout, no batch statistics
  EXPECT_EQ(net.download_buffers(), stats);                // running statistics untouched
  EXPECT_TRUE(net.layer(1).training());                    // back in training mode
}

TEST(EvalDuringTraining, PrintsEachEvaluationAndKeepsTheBest) {
  TempDir data, out;
  make_small_cifar(data, 8, 20);
  nlohmann::json config = parse_json_text(Config::embedded_default(), "simplecnn.json");
  config["eval"] = {{"every_epochs", 1}, {"tta_flip", true}};
  write_text(out.file("c.json"), config.dump());
  const std::string ckpt = out.file("w.safetensors");
  const RunResult r = run_cli("train " + out.file("c.json") + " --device cpu --epochs 3 --data " +
                              data.path().string() + " --out " + ckpt);
  ASSERT_EQ(r.exit_code, 0) << r.err;
  for (const char* line : {"Epoch 1: test accuracy ", "Epoch 2: test accuracy ",
                           "Epoch 3: test accuracy ", "Best checkpoint "})
    EXPECT_NE(r.out.find(line), std::string::npos) << line << "\n" << r.out;
  const std::string best = out.file("w.best.safetensors");
  ASSERT_TRUE(std::filesystem::exists(best));
  const RunResult inspect = run_cli("inspect " + best);
  ASSERT_EQ(inspect.exit_code, 0) << inspect.err;
  EXPECT_NE(inspect.out.find("\"status\":\"best\""), std::string::npos) << inspect.out;
  const RunResult eval = run_cli("eval --device cpu --tta-flip --checkpoint " + best + " --data " +
                                 data.path().string());
  EXPECT_EQ(eval.exit_code, 0) << eval.err;
}

// training.clip_grad_norm through the CLI: the metrics log carries the norm
// before clipping; a clipped run differs from an unclipped one; the key is
// checked and stored. (tests/parity_test.cpp holds it against PyTorch's
// clip_grad_norm_.)
TEST(GradientClipping, TrainsLogsTheNormAndIsStored) {
  TempDir data, out;
  make_small_cifar(data, 8, 10);
  const std::string common =
      "train --device cpu --epochs 1 --log-every 5 --no-eval --data " + data.path().string();
  const RunResult clipped =
      run_cli(common + " --clip-grad-norm 0.01 --out " + out.file("c.safetensors") + " --metrics " +
              out.file("c.jsonl"));
  ASSERT_EQ(clipped.exit_code, 0) << clipped.err;
  const RunResult plain = run_cli(common + " --out " + out.file("p.safetensors"));
  ASSERT_EQ(plain.exit_code, 0) << plain.err;
  EXPECT_NE(loss_lines(clipped.out), loss_lines(plain.out));
  const std::string log = read_text(out.file("c.jsonl"));
  EXPECT_NE(log.find("\"grad_norm\":"), std::string::npos) << log;
  EXPECT_NE(log.find("\"clip_grad_norm\":0.01"), std::string::npos) << log;  // the stored config

  nlohmann::json config = parse_json_text(Config::embedded_default(), "simplecnn.json");
  config["training"]["clip_grad_norm"] = -1;
  EXPECT_THROW(Config::from_json(config, "c.json"), ConfigError);
  config["training"]["clip_grad_norm"] = 2.5;
  EXPECT_EQ(Config::from_json(config, "c.json").training.clip_grad_norm, 2.5);
}

TEST(ExampleConfigs, AreValidAndRoundTrip) {
  std::vector<std::string> names;  // every config shipped, so that none is forgotten
  for (const auto& e : std::filesystem::directory_iterator(source_dir() + "/configs"))
    if (e.path().extension() == ".json") names.push_back(e.path().filename().string());
  std::sort(names.begin(), names.end());
  EXPECT_GE(names.size(), 9u);
  for (const std::string& name : names) {
    const std::string path = source_dir() + "/configs/" + name;
    const Config c = Config::load(path);
    const Network net = Network::from_json(c.network, path);
    EXPECT_EQ(Config::from_json(c.to_json(), "again").to_json(), c.to_json()) << name;
    EXPECT_GT(net.parameter_count(), 0) << name;
    const RunResult summary = run_cli("summary " + path);
    EXPECT_EQ(summary.exit_code, 0) << name << summary.err;
  }
}

}  // namespace
}  // namespace cnne::test
