// The "plateau" schedule (torch.optim.lr_scheduler.ReduceLROnPlateau):
// PyTorch's rates for metric sequences (tests/fixtures/plateau.json, made by
// tools/make_plateau_fixtures.py), the config's checks, its state in a
// checkpoint, and a training run that lowers its rate and resumes exactly.
#include <gtest/gtest.h>

#include <fstream>
#include <map>
#include <regex>
#include <sstream>
#include <tuple>

#include "engine/config.h"
#include "engine/error.h"
#include "engine/plateau.h"
#include "engine/schedule.h"
#include "engine/training_state.h"
#include "tests/test_util.h"

namespace cnne::test {
namespace {

ScheduleConfig plateau(nlohmann::json j) {
  j["type"] = "plateau";
  return ScheduleConfig::from_json(j, "t.json");
}

TEST(PlateauSchedule, MatchesPyTorchOnEveryFixtureCase) {
  std::ifstream in(fixtures_dir() + "/plateau.json");
  const nlohmann::json fx = nlohmann::json::parse(in);
  ASSERT_EQ(fx["cases"].size(), 8u);
  for (const auto& [name, c] : fx["cases"].items()) {
    const ScheduleConfig config = ScheduleConfig::from_json(c["schedule"], "plateau.json");
    const double base = c["lr"].get<double>();
    OptimizerConfig sgd;
    sgd.lr = base;
    LrSchedule schedule(config, sgd, 100, 10);
    PlateauState s;
    const auto& metrics = c["metrics"];
    int reductions = 0;
    for (size_t i = 0; i < metrics.size(); ++i) {
      const bool lowered = plateau_step(config, base, metrics[i].get<double>(), s);
      reductions += lowered;
      schedule.set_plateau_lr(s.lr);
      // bit for bit: the same max(lr * factor, min_lr) in doubles as PyTorch's
      EXPECT_EQ(schedule.at(static_cast<int64_t>(i) + 1, 0).lr, c["lrs"][i].get<double>())
          << name << " after evaluation " << i + 1;
    }
    EXPECT_EQ(s.reductions, reductions) << name;
    EXPECT_GT(reductions, 0) << name;
  }
}

TEST(PlateauSchedule, BeforeAnyReductionTheOptimizersRateAndMomentum) {
  OptimizerConfig sgd;
  sgd.lr = 0.05;
  sgd.momentum = 0.9;
  LrSchedule schedule(plateau({}), sgd, 10, 100);
  EXPECT_EQ(schedule.at(3, 300).lr, 0.05);
  EXPECT_EQ(schedule.at(3, 300).momentum, 0.9);
  schedule.set_plateau_lr(0.005);
  EXPECT_EQ(schedule.at(4, 400).lr, 0.005);
  EXPECT_EQ(schedule.at(4, 400).momentum, 0.9);
}

TEST(PlateauSchedule, ConfigDefaultsChecksAndRoundTrip) {
  const ScheduleConfig d = plateau({});
  EXPECT_EQ(d.metric, "accuracy");
  EXPECT_EQ(d.factor, 0.1);
  EXPECT_EQ(d.patience, 10);
  EXPECT_EQ(d.threshold, 1e-4);
  EXPECT_EQ(d.threshold_mode, "rel");
  EXPECT_EQ(d.cooldown, 0);
  EXPECT_EQ(d.min_lr, 0.0);
  EXPECT_EQ(d.plateau_eps, 1e-8);
  const ScheduleConfig c = plateau({{"metric", "loss"},
                                    {"factor", 0.5},
                                    {"patience", 3},
                                    {"threshold", 0.01},
                                    {"threshold_mode", "abs"},
                                    {"cooldown", 2},
                                    {"min_lr", 1e-5},
                                    {"eps", 1e-9}});
  const ScheduleConfig again = ScheduleConfig::from_json(c.to_json(), "again");
  EXPECT_EQ(again.to_json(), c.to_json());
  EXPECT_EQ(again.metric, "loss");
  EXPECT_EQ(again.cooldown, 2);
  EXPECT_EQ(again.plateau_eps, 1e-9);
  for (const auto& [j, expected] :
       {std::pair{nlohmann::json{{"metric", "val_loss"}},
                  "t.json: training.schedule: key 'metric' is 'val_loss', expected \"accuracy\" "
                  "(higher is better) or \"loss\" (lower is better)"},
        std::pair{nlohmann::json{{"factor", 1.0}}, "key 'factor' must be in (0, 1)"},
        std::pair{nlohmann::json{{"patience", -1}}, "key 'patience' must be >= 0 (evaluations)"},
        std::pair{nlohmann::json{{"threshold_mode", "relative"}},
                  "key 'threshold_mode' must be \"rel\" or \"abs\""},
        std::pair{nlohmann::json{{"cooldown", -2}}, "key 'cooldown' must be >= 0"},
        std::pair{nlohmann::json{{"min_lr", -1e-3}}, "key 'min_lr' must be >= 0"},
        std::pair{nlohmann::json{{"unit", "step"}},
                  "key 'unit' must be \"epoch\" for plateau (it acts after evaluations)"},
        std::pair{nlohmann::json{{"warmup", 2}},
                  "key 'warmup' is not taken by plateau (ReduceLROnPlateau has none)"},
        std::pair{nlohmann::json{{"gamma", 0.5}}, "unknown key 'gamma'"}}) {
    try {
      plateau(j);
      ADD_FAILURE() << "no error for " << j;
    } catch (const ConfigError& e) {
      EXPECT_NE(std::string(e.what()).find(expected), std::string::npos) << e.what();
    }
  }
  // It acts after evaluations during training: without them it is refused.
  nlohmann::json config = parse_json_text(Config::embedded_default(), "simplecnn.json");
  config["training"]["schedule"] = {{"type", "plateau"}};
  try {
    Config::from_json(config, "c.json");
    ADD_FAILURE() << "plateau without eval.every_epochs";
  } catch (const ConfigError& e) {
    EXPECT_NE(std::string(e.what()).find("c.json: training.schedule 'plateau' lowers the rate "
                                         "after evaluations during training: set "
                                         "eval.every_epochs"),
              std::string::npos)
        << e.what();
  }
  config["eval"] = {{"every_epochs", 1}};
  EXPECT_EQ(Config::from_json(config, "c.json").training.schedule.type, "plateau");
}

TEST(PlateauSchedule, StateRoundTripsInTheTrainingStateAndBadFieldsAreErrors) {
  TrainingState t;
  t.plateau.lr = 0.0125;
  t.plateau.has_best = true;
  t.plateau.best = 41.5;
  t.plateau.bad_evaluations = 2;
  t.plateau.cooldown_left = 1;
  t.plateau.reductions = 3;
  const TrainingState back = TrainingState::from_json(t.to_json(), "w.safetensors");
  EXPECT_EQ(back.plateau.lr, 0.0125);
  EXPECT_TRUE(back.plateau.has_best);
  EXPECT_EQ(back.plateau.best, 41.5);
  EXPECT_EQ(back.plateau.bad_evaluations, 2);
  EXPECT_EQ(back.plateau.cooldown_left, 1);
  EXPECT_EQ(back.plateau.reductions, 3);
  // before the first evaluation: no best (PyTorch's -inf), stored as null
  const nlohmann::json fresh = TrainingState{}.to_json();
  EXPECT_TRUE(fresh["plateau"]["best"].is_null());
  EXPECT_FALSE(TrainingState::from_json(fresh, "w").plateau.has_best);
  nlohmann::json old = fresh;  // a checkpoint from before the schedule existed
  old.erase("plateau");
  EXPECT_EQ(TrainingState::from_json(old, "w").plateau.lr, -1);
  for (const auto& [key, value, expected] :
       {std::tuple{"lr", nlohmann::json("fast"), "training_state.plateau.lr must be a number"},
        std::tuple{"bad_evaluations", nlohmann::json(-1),
                   "training_state.plateau.bad_evaluations must be an integer >= 0"},
        std::tuple{"cooldown_left", nlohmann::json(1.5),
                   "training_state.plateau.cooldown_left must be an integer >= 0"}}) {
    nlohmann::json bad = fresh;
    bad["plateau"][key] = value;
    try {
      TrainingState::from_json(bad, "w.safetensors");
      ADD_FAILURE() << "no error for " << key;
    } catch (const CheckpointError& e) {
      EXPECT_NE(std::string(e.what()).find(std::string("w.safetensors: ") + expected),
                std::string::npos)
          << e.what();
    }
  }
}

// A threshold no evaluation can beat (abs, 1000 points) makes the
// reductions certain: best at epoch 1, then patience 1 lowers the rate after
// epochs 3 and 5. The rate reaches the optimizer (the metrics log's epoch
// records), and a run stopped inside epoch 4 resumes to the same weights.
TEST(PlateauSchedule, TrainingLowersTheRateAndResumesExactly) {
  TempDir data, out;
  make_small_cifar(data, 8, 10);  // 40 training images: 8 for validation, 8 steps of 4
  nlohmann::json config = parse_json_text(Config::embedded_default(), "simplecnn.json");
  config["data"]["validation"] = 8;
  config["eval"] = {{"every_epochs", 1}};
  config["training"]["optimizer"]["lr"] = 0.01;
  config["training"]["schedule"] = {{"type", "plateau"},
                                    {"patience", 1},
                                    {"factor", 0.5},
                                    {"threshold", 1000},
                                    {"threshold_mode", "abs"}};
  write_text(out.file("c.json"), config.dump());
  const std::string common = "train " + out.file("c.json") +
                             " --device cpu --epochs 6 --log-every 3 --deterministic --data " +
                             data.path().string();
  const RunResult full = run_cli(common + " --out " + out.file("full.safetensors") + " --metrics " +
                                 out.file("m.jsonl"));
  ASSERT_EQ(full.exit_code, 0) << full.err;
  const std::regex first_cut(
      "ReduceLROnPlateau: lr 0\\.01 -> 0\\.005 after epoch 3 \\(validation accuracy not better "
      "than [0-9.]+ in the last 2 evaluations, patience 1\\)\n");
  EXPECT_TRUE(std::regex_search(full.out, first_cut)) << full.out;
  EXPECT_NE(full.out.find("Epoch 2: validation accuracy "), std::string::npos) << full.out;
  EXPECT_NE(full.out.find("), mean loss "), std::string::npos) << full.out;
  EXPECT_NE(full.out.find("ReduceLROnPlateau: lr 0.005 -> 0.0025 after epoch 5"), std::string::npos)
      << full.out;
  EXPECT_EQ(full.out.find("after epoch 4 ("), std::string::npos) << full.out;
  std::map<int64_t, double> epoch_lr;  // the epoch records' rate
  int reduced_records = 0;
  std::istringstream log(read_text(out.file("m.jsonl")));
  for (std::string line; std::getline(log, line);) {
    const nlohmann::json record = nlohmann::json::parse(line);
    if (record["event"] == "epoch") epoch_lr[record["epoch"].get<int64_t>()] = record["lr"];
    if (record["event"] == "lr_reduced") ++reduced_records;
  }
  EXPECT_EQ(reduced_records, 2);
  EXPECT_EQ(epoch_lr, (std::map<int64_t, double>{
                          {1, 0.01}, {2, 0.01}, {3, 0.01}, {4, 0.005}, {5, 0.005}, {6, 0.0025}}));
  const RunResult inspect = run_cli("inspect " + out.file("full.safetensors"));
  EXPECT_NE(inspect.out.find("\"reductions\":2"), std::string::npos) << inspect.out;

  const std::string part = out.file("part.safetensors");
  const RunResult first = run_cli(common + " --stop-after-steps 28 --out " + part);
  ASSERT_EQ(first.exit_code, 0) << first.err;
  const RunResult rest =
      run_cli("train --resume " + part + " --device cpu --data " + data.path().string());
  ASSERT_EQ(rest.exit_code, 0) << rest.err;
  EXPECT_NE(rest.out.find("ReduceLROnPlateau: lr 0.005 -> 0.0025 after epoch 5"), std::string::npos)
      << rest.out;
  EXPECT_EQ(digest_of(part), digest_of(out.file("full.safetensors")));
  EXPECT_EQ(loss_lines(first.out) + loss_lines(rest.out), loss_lines(full.out));

  // --no-eval without a validation set leaves it nothing to watch
  config["data"].erase("validation");
  write_text(out.file("t.json"), config.dump());
  const RunResult none = run_cli("train " + out.file("t.json") + " --device cpu --no-eval --data " +
                                 data.path().string() + " --out " + out.file("n.safetensors"));
  EXPECT_EQ(none.exit_code, 2);
  EXPECT_NE(none.err.find("training.schedule 'plateau' needs evaluations during training"),
            std::string::npos)
      << none.err;
}

}  // namespace
}  // namespace cnne::test
