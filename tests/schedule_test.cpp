// Learning-rate schedules by hand (the PyTorch fixtures cover step, onecycle
// and warmup + cosine on the step clock; these cover the rest).
#include <gtest/gtest.h>

#include <cmath>
#include <numbers>

#include "engine/config.h"
#include "engine/error.h"
#include "engine/schedule.h"

namespace cnne {
namespace {

ScheduleConfig schedule(const char* json) {
  return ScheduleConfig::from_json(nlohmann::json::parse(json), "t.json");
}

OptimizerConfig sgd(double lr, double momentum) {
  OptimizerConfig o;
  o.lr = lr;
  o.momentum = momentum;
  return o;
}

TEST(Schedule, ConstantIsTheOptimizersRates) {
  const LrSchedule s(ScheduleConfig{}, sgd(0.1, 0.9), 10, 100);
  EXPECT_DOUBLE_EQ(s.at(7, 700).lr, 0.1);
  EXPECT_DOUBLE_EQ(s.at(7, 700).momentum, 0.9);
}

TEST(Schedule, MultiStepCountsEpochsCompleted) {
  const LrSchedule s(schedule(R"({"type": "multistep", "milestones": [3, 6], "gamma": 0.1})"),
                     sgd(1.0, 0.9), 10, 100);
  EXPECT_DOUBLE_EQ(s.at(0, 0).lr, 1.0);
  EXPECT_DOUBLE_EQ(s.at(2, 299).lr, 1.0);
  EXPECT_NEAR(s.at(3, 300).lr, 0.1, 1e-15);
  EXPECT_NEAR(s.at(9, 999).lr, 0.01, 1e-15);
}

TEST(Schedule, CosineDefaultsToTheWholeRunAfterWarmup) {
  const LrSchedule s(schedule(R"({"type": "cosine", "warmup": 2, "warmup_start_factor": 0.5})"),
                     sgd(1.0, 0.9), 12, 10);  // 12 epochs: 2 warmup + t_max 10
  EXPECT_DOUBLE_EQ(s.at(0, 0).lr, 0.5);
  EXPECT_DOUBLE_EQ(s.at(1, 10).lr, 0.75);
  EXPECT_DOUBLE_EQ(s.at(2, 20).lr, 1.0);
  EXPECT_NEAR(s.at(7, 70).lr, 0.5, 1e-12);  // halfway through the cosine
  EXPECT_NEAR(s.at(11, 110).lr, (1 + std::cos(std::numbers::pi * 9 / 10)) / 2, 1e-12);
}

TEST(Schedule, CyclicTriangularCyclesMomentumTheOtherWay) {
  const LrSchedule s(schedule(R"({"type": "cyclic", "max_lr": 1.0, "step_size_up": 4})"),
                     sgd(0.2, 0.9), 1, 100);
  EXPECT_DOUBLE_EQ(s.at(0, 0).lr, 0.2);
  EXPECT_DOUBLE_EQ(s.at(0, 0).momentum, 0.9);
  EXPECT_DOUBLE_EQ(s.at(0, 2).lr, 0.6);
  EXPECT_DOUBLE_EQ(s.at(0, 4).lr, 1.0);
  EXPECT_DOUBLE_EQ(s.at(0, 4).momentum, 0.8);
  EXPECT_DOUBLE_EQ(s.at(0, 6).lr, 0.6);
  EXPECT_DOUBLE_EQ(s.at(0, 8).lr, 0.2);
  EXPECT_DOUBLE_EQ(s.at(0, 12).lr, 1.0);
}

struct BadTraining {
  const char* what;
  const char* training;  // the training object
  const char* expected;
};
void PrintTo(const BadTraining& c, std::ostream* os) {
  *os << c.what;
}

class TrainingConfigErrors : public ::testing::TestWithParam<BadTraining> {};

TEST_P(TrainingConfigErrors, NameTheKey) {
  nlohmann::json j = parse_json_text(Config::embedded_default(), "x.json");
  j["training"] = nlohmann::json::parse(GetParam().training);
  try {
    Config::from_json(j, "x.json");
    FAIL() << GetParam().what;
  } catch (const ConfigError& e) {
    EXPECT_NE(std::string(e.what()).find(GetParam().expected), std::string::npos) << e.what();
  }
}

INSTANTIATE_TEST_SUITE_P(
    Table, TrainingConfigErrors,
    ::testing::Values(
        BadTraining{"betas on sgd", R"({"optimizer": {"lr": 0.1, "betas": [0.9, 0.99]}})",
                    "training.optimizer: unknown key 'betas'"},
        BadTraining{"momentum on adam",
                    R"({"optimizer": {"type": "adam", "lr": 0.1, "momentum": 0.9}})",
                    "unknown key 'momentum'"},
        BadTraining{"amsgrad", R"({"optimizer": {"type": "adam", "lr": 0.1, "amsgrad": true}})",
                    "key 'amsgrad' is not supported"},
        BadTraining{"bad beta",
                    R"({"optimizer": {"type": "adamw", "lr": 0.1, "betas": [0.9, 1.0]}})",
                    "key 'betas' must be in [0, 1) each"},
        BadTraining{"unknown optimizer", R"({"optimizer": {"type": "lamb", "lr": 0.1}})",
                    "expected sgd, adam or adamw"},
        BadTraining{"unknown schedule",
                    R"({"optimizer": {"lr": 0.1}, "schedule": {"type": "poly"}})",
                    "training.schedule: key 'type' is 'poly'"},
        BadTraining{
            "onecycle per epoch",
            R"({"optimizer": {"lr": 0.1, "momentum": 0.9}, "schedule": {"type": "onecycle", "max_lr": 1, "unit": "epoch"}})",
            "must be \"step\" for onecycle"},
        BadTraining{"cycling without momentum",
                    R"({"optimizer": {"lr": 0.1}, "schedule": {"type": "cyclic", "max_lr": 1}})",
                    "cycles momentum but the SGD optimizer has momentum 0"},
        BadTraining{"step without size",
                    R"({"optimizer": {"lr": 0.1}, "schedule": {"type": "step"}})",
                    "missing required key 'step_size'"},
        BadTraining{"smoothing 1", R"({"optimizer": {"lr": 0.1}, "label_smoothing": 1.0})",
                    "key 'label_smoothing' must be in [0, 1)"}));

}  // namespace
}  // namespace cnne
