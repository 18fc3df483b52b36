// Learning-rate schedules: every type against PyTorch's schedulers step by
// step (tests/fixtures/schedules.json, made by tools/make_schedule_fixtures.py;
// the training parity fixtures cover step, onecycle and warmup + cosine inside
// a run), a few by hand, and the config's errors.
#include <gtest/gtest.h>

#include <cmath>
#include <fstream>
#include <numbers>

#include "engine/config.h"
#include "engine/error.h"
#include "engine/schedule.h"
#include "tests/test_util.h"

namespace cnne {
namespace {

// PyTorch's chainable schedulers multiply step by step where cnnengine
// evaluates the closed form: equal to rounding, relative to the rate.
TEST(Schedule, EveryTypeMatchesPyTorchsSchedulerAtEveryUnit) {
  std::ifstream in(test::fixtures_dir() + "/schedules.json");
  ASSERT_TRUE(in) << "tests/fixtures/schedules.json";
  const nlohmann::json fx = nlohmann::json::parse(in);
  ASSERT_EQ(fx["cases"].size(), 16u);
  for (const auto& [name, c] : fx["cases"].items()) {
    const ScheduleConfig config = ScheduleConfig::from_json(c["schedule"], "schedules.json");
    OptimizerConfig sgd;
    sgd.lr = c["lr"].get<double>();
    sgd.momentum = c["momentum"].get<double>();
    const int64_t epochs = c["epochs"].get<int64_t>();
    const int64_t per_epoch = c["steps_per_epoch"].get<int64_t>();
    const LrSchedule schedule(config, sgd, epochs, per_epoch);
    const auto& lrs = c["lrs"];
    const bool step_clock = config.unit == "step";
    ASSERT_EQ(static_cast<int64_t>(lrs.size()), step_clock ? epochs * per_epoch : epochs) << name;
    for (size_t i = 0; i < lrs.size(); ++i) {
      const auto u = static_cast<int64_t>(i);
      // unit "step": step u of the run; unit "epoch": the first step of epoch u + 1
      const StepRates r =
          step_clock ? schedule.at(u / per_epoch, u) : schedule.at(u, u * per_epoch);
      const double want = lrs[i].get<double>(), momentum = c["momenta"][i].get<double>();
      EXPECT_NEAR(r.lr, want, 1e-12 * std::max(1.0, std::fabs(want))) << name << " unit " << u;
      EXPECT_NEAR(r.momentum, momentum, 1e-12) << name << " unit " << u;
    }
  }
}

TEST(Schedule, PolynomialReachesZeroAndStaysThere) {
  const LrSchedule s(
      ScheduleConfig::from_json(
          nlohmann::json::parse(R"({"type": "polynomial", "total_iters": 4})"), "t.json"),
      OptimizerConfig{}, 10, 100);
  EXPECT_DOUBLE_EQ(s.at(2, 200).lr, 0.5 * OptimizerConfig{}.lr);
  EXPECT_EQ(s.at(4, 400).lr, 0.0);
  EXPECT_EQ(s.at(9, 900).lr, 0.0);
}

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
        BadTraining{"amsgrad on sgd", R"({"optimizer": {"lr": 0.1, "amsgrad": true}})",
                    "training.optimizer: unknown key 'amsgrad'"},
        BadTraining{"amsgrad not a bool",
                    R"({"optimizer": {"type": "adam", "lr": 0.1, "amsgrad": 1}})",
                    "training.optimizer: key 'amsgrad'"},
        BadTraining{"betas on rmsprop",
                    R"({"optimizer": {"type": "rmsprop", "lr": 0.1, "betas": [0.9, 0.99]}})",
                    "training.optimizer: unknown key 'betas'"},
        BadTraining{"rmsprop alpha",
                    R"({"optimizer": {"type": "rmsprop", "lr": 0.1, "alpha": 1.5}})",
                    "key 'alpha' must be in [0, 1]"},
        BadTraining{"rmsprop momentum 1",
                    R"({"optimizer": {"type": "rmsprop", "lr": 0.1, "momentum": 1}})",
                    "key 'momentum' must be in [0, 1)"},
        BadTraining{"rmsprop eps 0", R"({"optimizer": {"type": "rmsprop", "lr": 0.1, "eps": 0}})",
                    "training.optimizer: key 'eps' must be > 0"},
        BadTraining{"momentum on adagrad",
                    R"({"optimizer": {"type": "adagrad", "lr": 0.1, "momentum": 0.9}})",
                    "training.optimizer: unknown key 'momentum'"},
        BadTraining{"adagrad lr_decay",
                    R"({"optimizer": {"type": "adagrad", "lr": 0.1, "lr_decay": -1}})",
                    "key 'lr_decay' must be in [0, inf)"},
        BadTraining{
            "adagrad initial accumulator",
            R"({"optimizer": {"type": "adagrad", "lr": 0.1, "initial_accumulator_value": -0.1}})",
            "key 'initial_accumulator_value' must be in [0, inf)"},
        BadTraining{
            "rmsprop cycling without momentum",
            R"({"optimizer": {"type": "rmsprop", "lr": 0.1}, "schedule": {"type": "onecycle", "max_lr": 1}})",
            "cycles momentum but the RMSprop optimizer has momentum 0"},
        BadTraining{
            "adagrad cycling",
            R"({"optimizer": {"type": "adagrad", "lr": 0.1}, "schedule": {"type": "cyclic", "max_lr": 1}})",
            "cycles momentum but Adagrad has no momentum (set cycle_momentum false)"},
        BadTraining{"bad beta",
                    R"({"optimizer": {"type": "adamw", "lr": 0.1, "betas": [0.9, 1.0]}})",
                    "key 'betas' must be in [0, 1) each"},
        BadTraining{"unknown optimizer", R"({"optimizer": {"type": "lamb", "lr": 0.1}})",
                    "expected sgd, adam, adamw, rmsprop or adagrad"},
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
        BadTraining{"restarts without t_0",
                    R"({"optimizer": {"lr": 0.1}, "schedule": {"type": "cosine_restarts"}})",
                    "training.schedule: missing required key 't_0'"},
        BadTraining{
            "restarts t_mult 0",
            R"({"optimizer": {"lr": 0.1}, "schedule": {"type": "cosine_restarts", "t_0": 5, "t_mult": 0}})",
            "key 't_mult' must be an integer in 1..1000"},
        BadTraining{"exponential without gamma",
                    R"({"optimizer": {"lr": 0.1}, "schedule": {"type": "exponential"}})",
                    "training.schedule: missing required key 'gamma'"},
        BadTraining{
            "exponential gamma 0",
            R"({"optimizer": {"lr": 0.1}, "schedule": {"type": "exponential", "gamma": 0}})",
            "key 'gamma' must be > 0"},
        BadTraining{"polynomial power 0",
                    R"({"optimizer": {"lr": 0.1}, "schedule": {"type": "polynomial", "power": 0}})",
                    "key 'power' must be > 0"},
        BadTraining{
            "polynomial negative total",
            R"({"optimizer": {"lr": 0.1}, "schedule": {"type": "polynomial", "total_iters": -1}})",
            "key 'total_iters' must be >= 0"},
        BadTraining{"power on cosine",
                    R"({"optimizer": {"lr": 0.1}, "schedule": {"type": "cosine", "power": 2}})",
                    "unknown key 'power'"},
        BadTraining{"smoothing 1", R"({"optimizer": {"lr": 0.1}, "label_smoothing": 1.0})",
                    "key 'label_smoothing' must be in [0, 1)"}));

}  // namespace
}  // namespace cnne
