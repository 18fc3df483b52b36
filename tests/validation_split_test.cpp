// The validation set (data.validation): the last N training images, held out
// of training; evaluations during training and the best checkpoint use it,
// the test set is read once at the end.
#include <gtest/gtest.h>

#include <regex>

#include "engine/config.h"
#include "engine/error.h"
#include "engine/validation_split.h"
#include "tests/test_util.h"

namespace cnne::test {
namespace {

ImageDataset numbered(int64_t count) {
  ImageDataset d;
  d.count = count;
  d.channels = 1;
  d.height = d.width = 2;
  d.class_names = {"a", "b", "c"};
  for (int64_t i = 0; i < count; ++i) {
    d.labels.push_back(static_cast<int32_t>(i % 3));
    for (int64_t j = 0; j < 4; ++j) d.pixels.push_back(static_cast<uint8_t>(i * 4 + j));
  }
  return d;
}

TEST(ValidationSplit, MovesTheLastImagesOutOfTheTrainingSet) {
  ImageDataset train = numbered(10);
  const ImageDataset held = hold_out_validation(train, 3, "c.json");
  ASSERT_EQ(train.count, 7);
  ASSERT_EQ(held.count, 3);
  EXPECT_EQ(train.pixels.size(), 7u * 4u);
  EXPECT_EQ(train.labels.size(), 7u);
  EXPECT_EQ(held.pixels.size(), 3u * 4u);
  EXPECT_EQ(held.image_bytes(), 4);
  EXPECT_EQ(held.class_names, train.class_names);
  for (int64_t i = 0; i < 3; ++i) {  // images 7, 8, 9 with their labels
    EXPECT_EQ(held.labels[static_cast<size_t>(i)], (7 + i) % 3);
    EXPECT_EQ(held.image(i)[0], static_cast<uint8_t>((7 + i) * 4));
  }
  EXPECT_EQ(train.image(6)[3], static_cast<uint8_t>(6 * 4 + 3));
}

TEST(ValidationSplit, RefusesToHoldOutEverything) {
  ImageDataset train = numbered(5);
  try {
    hold_out_validation(train, 5, "c.json");
    FAIL() << "no error";
  } catch (const ConfigError& e) {
    EXPECT_NE(std::string(e.what()).find(
                  "c.json: data.validation holds out 5 images but only 5 training images"),
              std::string::npos)
        << e.what();
  }
  EXPECT_EQ(train.count, 5);  // untouched
}

TEST(ValidationSplit, ConfigKeyRoundTripsAndIsChecked) {
  nlohmann::json j = parse_json_text(Config::embedded_default(), "simplecnn.json");
  j["data"]["validation"] = 5000;
  const Config c = Config::from_json(j, "c.json");
  EXPECT_EQ(c.data.validation, 5000);
  EXPECT_EQ(Config::from_json(c.to_json(), "again").data.validation, 5000);
  j["data"]["validation"] = -1;
  EXPECT_THROW(Config::from_json(j, "c.json"), ConfigError);
}

double accuracy_line(const std::string& out, const std::string& set) {
  std::smatch m;
  const std::regex line("Accuracy of the network on the [0-9]+ " + set + " images: ([0-9.]+)%");
  return std::regex_search(out, m, line) ? std::stod(m[1].str()) : -1;
}

// The held-out images are never trained on: holding out the last 8 of 40
// trains exactly as training on the first 32 does.
TEST(ValidationSplit, TrainingNeverSeesTheHeldOutImages) {
  TempDir data, out;
  make_small_cifar(data, 8, 10);
  const std::string common =
      " --device cpu --epochs 2 --batch-size 4 --no-eval --data " + data.path().string();
  const RunResult held =
      run_cli("train" + common + " --validation 8 --out " + out.file("held.safetensors"));
  ASSERT_EQ(held.exit_code, 0) << held.err;
  EXPECT_NE(held.out.find("Data: 32 training, 8 validation"), std::string::npos) << held.out;
  const RunResult limited =
      run_cli("train" + common + " --train-limit 32 --out " + out.file("first.safetensors"));
  ASSERT_EQ(limited.exit_code, 0) << limited.err;
  EXPECT_FALSE(digest_of(out.file("first.safetensors")).empty());
  EXPECT_EQ(digest_of(out.file("held.safetensors")), digest_of(out.file("first.safetensors")));
  // --no-eval skips the test set only; the validation set is still evaluated.
  EXPECT_GE(accuracy_line(held.out, "validation"), 0) << held.out;
  EXPECT_LT(accuracy_line(held.out, "test"), 0) << held.out;
}

TEST(ValidationSplit, EvaluationsDuringTrainingAndTheBestCheckpointUseIt) {
  TempDir data, out;
  make_small_cifar(data, 8, 10);
  nlohmann::json config = parse_json_text(Config::embedded_default(), "simplecnn.json");
  config["data"]["validation"] = 10;
  config["eval"] = {{"every_epochs", 1}};
  write_text(out.file("c.json"), config.dump());
  const std::string ckpt = out.file("w.safetensors");
  const RunResult r =
      run_cli("train " + out.file("c.json") + " --device cpu --epochs 3 --data " +
              data.path().string() + " --out " + ckpt + " --metrics " + out.file("m.jsonl"));
  ASSERT_EQ(r.exit_code, 0) << r.err;
  for (const char* line :
       {"Epoch 1: validation accuracy ", "Epoch 3: validation accuracy ", "Best checkpoint "})
    EXPECT_NE(r.out.find(line), std::string::npos) << line << "\n" << r.out;
  EXPECT_EQ(r.out.find("test accuracy"), std::string::npos) << r.out;
  EXPECT_GE(accuracy_line(r.out, "test"), 0) << r.out;  // the test set, once, at the end
  const std::string log = read_text(out.file("m.jsonl"));
  EXPECT_NE(log.find("\"set\":\"validation\",\"validation_accuracy\":"), std::string::npos) << log;
  EXPECT_NE(log.find("\"event\":\"validation\""), std::string::npos) << log;

  // eval --validation reads the same 10 images from the checkpoint's config and
  // reproduces the accuracy the run printed.
  const RunResult e = run_cli("eval --device cpu --validation --checkpoint " + ckpt + " --data " +
                              data.path().string());
  ASSERT_EQ(e.exit_code, 0) << e.err;
  EXPECT_NE(e.out.find("Data: 10 validation images"), std::string::npos) << e.out;
  EXPECT_DOUBLE_EQ(accuracy_line(e.out, "validation"), accuracy_line(r.out, "validation"));
  const RunResult best = run_cli("inspect " + out.file("w.best.safetensors"));
  ASSERT_EQ(best.exit_code, 0) << best.err;
  EXPECT_NE(best.out.find("\"test_accuracy\":-1.0"), std::string::npos) << best.out;
  EXPECT_EQ(best.out.find("\"validation_accuracy\":-1.0"), std::string::npos) << best.out;
}

// eval.early_stopping: a learning rate too small to change any prediction
// leaves the accuracy where the first evaluation found it, so a patience of
// 2 stops the run after epoch 3 of 10, as a complete run.
TEST(EarlyStopping, StopsAfterPatienceEvaluationsWithoutABetterOne) {
  TempDir data, out;
  make_small_cifar(data, 8, 10);
  nlohmann::json config = parse_json_text(Config::embedded_default(), "simplecnn.json");
  config["data"]["validation"] = 8;
  config["eval"] = {{"every_epochs", 1}, {"early_stopping", 2}};
  write_text(out.file("c.json"), config.dump());
  const std::string ckpt = out.file("w.safetensors");
  const RunResult r =
      run_cli("train " + out.file("c.json") + " --device cpu --epochs 10 " + "--lr 1e-12 --data " +
              data.path().string() + " --out " + ckpt + " --metrics " + out.file("m.jsonl"));
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_NE(r.out.find("Early stopping: no better validation accuracy in 2 evaluations (best "),
            std::string::npos)
      << r.out;
  EXPECT_NE(r.out.find("at epoch 1); stopping after epoch 3 of 10"), std::string::npos) << r.out;
  EXPECT_EQ(r.out.find("Epoch 4:"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("Finished Training"), std::string::npos) << r.out;
  EXPECT_GE(accuracy_line(r.out, "test"), 0) << r.out;
  EXPECT_NE(read_text(out.file("m.jsonl")).find("\"event\":\"early_stop\""), std::string::npos);
  const RunResult inspect = run_cli("inspect " + ckpt);
  EXPECT_NE(inspect.out.find("\"epochs_completed\":3"), std::string::npos) << inspect.out;
  EXPECT_NE(inspect.out.find("\"status\":\"complete\""), std::string::npos) << inspect.out;

  // Without evaluations during training it has nothing to watch: refused.
  config["eval"] = {{"early_stopping", 2}};
  EXPECT_THROW(Config::from_json(config, "c.json"), ConfigError);
  config["eval"] = {{"every_epochs", 1}, {"early_stopping", 2}};
  config["data"].erase("validation");
  write_text(out.file("t.json"), config.dump());
  const RunResult none = run_cli("train " + out.file("t.json") + " --device cpu --no-eval --data " +
                                 data.path().string() + " --out " + ckpt);
  EXPECT_EQ(none.exit_code, 2);
  EXPECT_NE(none.err.find("eval.early_stopping needs evaluations during training"),
            std::string::npos)
      << none.err;
}

TEST(ValidationSplit, ResumingKeepsTheSplit) {
  TempDir data, out;
  make_small_cifar(data, 8, 10);
  const std::string ckpt = out.file("w.safetensors");
  const std::string common =
      " --device cpu --batch-size 4 --no-eval --data " + data.path().string() + " --out " + ckpt;
  ASSERT_EQ(run_cli("train" + common + " --validation 8 --epochs 1").exit_code, 0);
  const RunResult resumed = run_cli("train --resume " + ckpt + " --epochs 2 --device cpu " +
                                    "--no-eval --data " + data.path().string());
  ASSERT_EQ(resumed.exit_code, 0) << resumed.err;
  EXPECT_NE(resumed.out.find("Data: 32 training, 8 validation"), std::string::npos) << resumed.out;
  // In the middle of an epoch the split cannot change: the order would.
  ASSERT_EQ(run_cli("train" + common + " --validation 8 --epochs 1 --stop-after-steps 3").exit_code,
            0);
  const RunResult changed = run_cli("train --resume " + ckpt + " --validation 4 --device cpu " +
                                    "--no-eval --data " + data.path().string());
  EXPECT_EQ(changed.exit_code, 2);
  EXPECT_NE(changed.err.find("cannot change validation when resuming in the middle of an epoch"),
            std::string::npos)
      << changed.err;
}

}  // namespace
}  // namespace cnne::test
