// The metrics log (engine/training_log.h, `cnnengine train --metrics FILE`):
// whole JSON lines, appended across a stop and its resume, the same numbers
// the run prints, and the error of a run that fails.
#include <gtest/gtest.h>

#include <cstdio>
#include <filesystem>
#include <regex>
#include <sstream>

#include <nlohmann/json.hpp>

#include "engine/error.h"
#include "engine/training_log.h"
#include "tests/test_util.h"

namespace cnne::test {
namespace {

// Every line of `path` parsed; a line that is not whole JSON fails the test.
std::vector<nlohmann::json> records(const std::string& path) {
  std::vector<nlohmann::json> out;
  std::istringstream lines(read_text(path));
  for (std::string line; std::getline(lines, line);) {
    EXPECT_TRUE(nlohmann::json::accept(line)) << "not a JSON line: " << line;
    if (nlohmann::json::accept(line)) out.push_back(nlohmann::json::parse(line));
  }
  return out;
}

std::vector<nlohmann::json> of_event(const std::vector<nlohmann::json>& all,
                                     const std::string& event) {
  std::vector<nlohmann::json> out;
  for (const auto& r : all)
    if (r.at("event") == event) out.push_back(r);
  return out;
}

TEST(TrainingLog, AppendsWholeLinesWithTheEventAndTheTime) {
  TempDir dir;
  const std::string path = dir.file("m.jsonl");
  {
    TrainingLog log(path);
    log.write("start", {{"step", 0}});
    log.write("loss", {{"step", 3}, {"loss", 2.25}});
    EXPECT_TRUE(log.written());
  }
  TrainingLog(path).write("end", {{"status", "complete"}});  // a second run appends
  const auto all = records(path);
  ASSERT_EQ(all.size(), 3u);
  EXPECT_EQ(all[0].at("event"), "start");
  EXPECT_EQ(all[1].at("loss"), 2.25);
  EXPECT_EQ(all[2].at("status"), "complete");
  for (const auto& r : all) {
    ASSERT_TRUE(r.at("wall_s").is_number()) << r.dump();
    EXPECT_GE(r.at("wall_s").get<double>(), 0.0);
  }
}

TEST(TrainingLog, AnUnopenablePathIsAUsageErrorNamingIt) {
  try {
    TrainingLog log("/nonexistent/folder/m.jsonl");
    FAIL() << "no error";
  } catch (const UsageError& e) {
    EXPECT_NE(std::string(e.what()).find("'/nonexistent/folder/m.jsonl': cannot open"),
              std::string::npos)
        << e.what();
  }
}

TEST(TrainingLog, AFailedWriteStopsTheLogButNotTheCaller) {
  if (!std::filesystem::exists("/dev/full")) GTEST_SKIP() << "no /dev/full on this system";
  TrainingLog log("/dev/full");  // every write fails with ENOSPC
  testing::internal::CaptureStderr();
  log.write("loss", {{"step", 1}});
  log.write("loss", {{"step", 2}});
  const std::string err = testing::internal::GetCapturedStderr();
  EXPECT_FALSE(log.written());
  EXPECT_NE(err.find("metrics log '/dev/full': write failed"), std::string::npos) << err;
  EXPECT_EQ(std::count(err.begin(), err.end(), '\n'), 1) << "one warning: " << err;
}

// A run stopped after 7 steps and resumed: one log with both runs, the loss
// records continuing without a gap or a repeat, each equal to the printed
// line, and the final test accuracy the run printed.
TEST(MetricsLog, AStoppedAndResumedRunGivesOneContinuousRecord) {
  TempDir data, out;
  make_small_cifar(data, 8, 20);  // 40 training images, batch 4: 10 steps an epoch
  const std::string log = out.file("run.jsonl"), ckpt = out.file("w.safetensors");
  const std::string common =
      "--device cpu --data " + data.path().string() + " --out " + ckpt + " --metrics " + log;
  const RunResult first =
      run_cli("train " + common + " --epochs 3 --log-every 2 --stop-after-steps 7");
  ASSERT_EQ(first.exit_code, 0) << first.err;
  const RunResult rest = run_cli("train --resume " + ckpt + " " + common);
  ASSERT_EQ(rest.exit_code, 0) << rest.err;

  const auto all = records(log);
  ASSERT_FALSE(all.empty());
  const auto starts = of_event(all, "start");
  ASSERT_EQ(starts.size(), 2u);
  EXPECT_EQ(starts[0].at("resumed"), false);
  EXPECT_EQ(starts[1].at("resumed"), true);
  EXPECT_EQ(starts[1].at("step"), 7);
  EXPECT_EQ(starts[0].at("batches_per_epoch"), 10);
  ASSERT_EQ(of_event(all, "stop").size(), 1u);
  EXPECT_EQ(of_event(all, "stop")[0].at("step"), 7);
  EXPECT_EQ(of_event(all, "config").size(), 2u);

  // Log lines every 2 batches of each epoch: steps 2 4 6 8 10 12 ... 30.
  const auto losses = of_event(all, "loss");
  ASSERT_EQ(losses.size(), 15u);
  std::string printed = loss_lines(first.out) + loss_lines(rest.out);
  std::string logged;
  for (size_t i = 0; i < losses.size(); ++i) {
    const auto& r = losses[i];
    const int64_t step = r.at("step");
    EXPECT_EQ(step, 2 * static_cast<int64_t>(i + 1)) << r.dump();
    EXPECT_EQ(r.at("epoch"), (step - 1) / 10 + 1) << r.dump();
    EXPECT_EQ(r.at("batch"), (step - 1) % 10 + 1) << r.dump();
    EXPECT_DOUBLE_EQ(r.at("lr").get<double>(), 0.001);
    char line[96];
    std::snprintf(line, sizeof line, "[Epoch: %lld, Batch: %lld] Loss: %.3f\n",
                  static_cast<long long>(r.at("epoch")), static_cast<long long>(r.at("batch")),
                  r.at("loss").get<double>());
    logged += line;
  }
  EXPECT_EQ(logged, printed);

  const auto epochs = of_event(all, "epoch");
  ASSERT_EQ(epochs.size(), 3u);
  for (int e = 0; e < 3; ++e) {
    EXPECT_EQ(epochs[static_cast<size_t>(e)].at("epoch"), e + 1);
    EXPECT_EQ(epochs[static_cast<size_t>(e)].at("step"), 10 * (e + 1));
    EXPECT_GT(epochs[static_cast<size_t>(e)].at("images_per_second").get<double>(), 0.0);
  }

  const auto tests = of_event(all, "test");
  ASSERT_EQ(tests.size(), 1u);
  EXPECT_EQ(tests[0].at("images"), 20);
  EXPECT_EQ(tests[0].at("per_class").size(), 10u);
  EXPECT_TRUE(tests[0].at("per_class").contains("plane"));
  EXPECT_EQ(tests[0].at("per_class_precision").size(), 10u);
  EXPECT_EQ(tests[0].at("per_class_f1").size(), 10u);
  EXPECT_GE(tests[0].at("macro_f1").get<double>(), 0.0);
  char accuracy[96];
  std::snprintf(accuracy, sizeof accuracy, "Accuracy of the network on the 20 test images: %.2f%%",
                tests[0].at("accuracy").get<double>());
  EXPECT_NE(rest.out.find(accuracy), std::string::npos) << rest.out;
  EXPECT_EQ(all.back().at("event"), "end");
  EXPECT_EQ(all.back().at("status"), "complete");
  EXPECT_EQ(all.back().at("step"), 30);
  // The checkpoints: the stop's, then the final one.
  const auto saved = of_event(all, "checkpoint");
  ASSERT_EQ(saved.size(), 2u);
  EXPECT_EQ(saved[0].at("status"), "stopped");
  EXPECT_EQ(saved[1].at("status"), "complete");
  EXPECT_EQ(saved[1].at("path"), ckpt);
}

TEST(MetricsLog, ADivergedRunEndsItsLogWithTheError) {
  TempDir data, out;
  make_small_cifar(data, 8, 8);
  const std::string log = out.file("run.jsonl");
  const RunResult r =
      run_cli("train --device cpu --no-eval --epochs 3 --lr 1e6 --data " + data.path().string() +
              " --out " + out.file("w.safetensors") + " --metrics " + log);
  ASSERT_EQ(r.exit_code, 4) << r.out << r.err;
  const auto all = records(log);
  ASSERT_FALSE(all.empty());
  EXPECT_EQ(all.back().at("event"), "error");
  const std::string message = all.back().at("message");
  EXPECT_NE(message.find("non-finite values at epoch"), std::string::npos) << message;
  EXPECT_NE(r.err.find(message), std::string::npos) << "the same message as stderr: " << r.err;
}

}  // namespace
}  // namespace cnne::test
