// The learning-rate range test (Note [learning-rate range test] in
// engine/lr_finder.h): the ramp, the smoothing and the divergence stop as
// Lightning's _LRCallback, the suggestions (numpy.gradient's argmin), the
// trainer's hooks it runs on, and the option errors. The CLI verb is in
// tests/cli_test.cpp.
#include <gtest/gtest.h>

#include <cmath>
#include <filesystem>
#include <limits>
#include <sstream>

#include "engine/config.h"
#include "engine/device_dataset.h"
#include "engine/error.h"
#include "engine/lr_finder.h"
#include "engine/network.h"
#include "engine/trainer.h"
#include "tests/test_util.h"

namespace cnne::test {
namespace {

LrFinderOptions options(double smoothing, double divergence) {
  LrFinderOptions o;
  o.smoothing = smoothing;
  o.divergence = divergence;
  return o;
}

TEST(LrFinder, RampsExponentiallyAsTheExponentialSchedule) {
  LrFinderOptions o;
  o.start_lr = 1e-6;
  o.end_lr = 1.0;
  o.steps = 60;
  const LrFinder finder(o);
  EXPECT_DOUBLE_EQ(finder.lr_at(0), 1e-6);
  EXPECT_NEAR(finder.lr_at(30), 1e-3, 1e-15);  // halfway in log space
  EXPECT_NEAR(finder.lr_at(60), 1.0, 1e-12);  // where the ramp would arrive, one step past the last
  OptimizerConfig sgd;
  sgd.lr = o.start_lr;
  const LrSchedule schedule(finder.schedule(), sgd, 60, 1);
  for (int64_t i = 0; i < o.steps; ++i)
    EXPECT_NEAR(schedule.at(i, i).lr, finder.lr_at(i), 1e-12 * finder.lr_at(i)) << i;
}

TEST(LrFinder, SmoothsWithLightningsBiasCorrection) {
  LrFinder finder(options(0.5, 0));
  for (double loss : {2.0, 4.0, 1.0}) EXPECT_FALSE(finder.record(0.1, loss));
  ASSERT_EQ(finder.points().size(), 3u);
  // avg = 0.5 avg + 0.5 loss; smoothed = avg / (1 - 0.5^k)
  EXPECT_DOUBLE_EQ(finder.points()[0].smoothed, 2.0);
  EXPECT_DOUBLE_EQ(finder.points()[1].smoothed, 2.5 / 0.75);
  EXPECT_DOUBLE_EQ(finder.points()[2].smoothed, 1.75 / 0.875);
  EXPECT_EQ(finder.points()[2].step, 3);
  EXPECT_EQ(finder.points()[2].loss, 1.0);
}

TEST(LrFinder, StopsOnceTheSmoothedLossPassesDivergenceTimesItsBest) {
  LrFinder finder(options(0, 4));  // beta 0: smoothed = loss
  EXPECT_FALSE(finder.record(1e-3, 2.0));
  EXPECT_FALSE(finder.record(1e-2, 1.0));
  EXPECT_FALSE(finder.record(1e-1, 3.9));
  EXPECT_TRUE(finder.stop_reason().empty());
  EXPECT_TRUE(finder.record(1.0, 4.5));
  EXPECT_NE(finder.stop_reason().find("4.5 at step 4 passed 4 times its best (1)"),
            std::string::npos)
      << finder.stop_reason();
  EXPECT_EQ(finder.points().size(), 4u);  // the diverged step is kept, as Lightning keeps it

  LrFinder never(options(0, 0));
  EXPECT_FALSE(never.record(1e-3, 1.0));
  EXPECT_FALSE(never.record(1e-2, 1e9));
}

TEST(LrFinder, ANonFiniteLossStopsAtOnce) {
  LrFinder nan(options(0.98, 0));
  EXPECT_FALSE(nan.record(1e-3, 2.3));
  EXPECT_TRUE(nan.record(1e-2, std::numeric_limits<double>::quiet_NaN()));
  EXPECT_EQ(nan.stop_reason(), "the loss is NaN at step 2");
  EXPECT_EQ(nan.minimum(), 0u);  // the finite points still count
  LrFinder inf(options(0.98, 4));
  EXPECT_TRUE(inf.record(1e-3, std::numeric_limits<double>::infinity()));
  EXPECT_EQ(inf.stop_reason(), "the loss is infinite at step 1");
  EXPECT_FALSE(inf.minimum().has_value());
}

TEST(LrFinder, SteepestIsNumpyGradientsArgminUpToTheLowestLoss) {
  LrFinder finder(options(0, 0));
  // A drop inside the first 10 (skipped), the descent (steepest central
  // difference at index 13: (1.3 - 1.9) / 2), the lowest loss at 18, then the
  // noise of a diverging loss: Lightning's search over all points would pick
  // index 20 ((1.15 - 3.0) / 2), past the minimum.
  const double losses[] = {3.0, 2.0, 2.0, 2.0,  2.0, 2.0,  2.0, 2.0, 2.0, 2.0,  2.0, 1.95,
                           1.9, 1.6, 1.3, 1.25, 1.2, 1.15, 1.1, 3.0, 1.2, 1.15, 9.0};
  double lr = 1e-5;
  for (double loss : losses) finder.record(lr *= 1.5, loss);
  ASSERT_TRUE(finder.minimum().has_value());
  EXPECT_EQ(*finder.minimum(), 18u);
  ASSERT_TRUE(finder.steepest().has_value());
  EXPECT_EQ(*finder.steepest(), 13u);

  LrFinder short_run(options(0, 0));  // nothing between index 10 and the lowest point
  for (double loss : {2.0, 1.0, 1.5, 1.6, 1.7, 1.8, 1.9, 2.0, 2.1, 2.2, 2.3, 2.4, 2.5})
    short_run.record(0.1, loss);
  EXPECT_FALSE(short_run.steepest().has_value());
  EXPECT_EQ(*short_run.minimum(), 1u);
}

TEST(LrFinder, RefusesOptionsOutsideTheirRangesNamingTheFlag) {
  const auto refused = [](LrFinderOptions o) -> std::string {
    try {
      LrFinder finder(o);
    } catch (const UsageError& e) {
      return e.what();
    }
    return "accepted";
  };
  LrFinderOptions o;
  o.start_lr = 0;
  EXPECT_NE(refused(o).find("--start-lr must be a positive number"), std::string::npos);
  o = {};
  o.end_lr = o.start_lr;
  EXPECT_NE(refused(o).find("--end-lr must be greater than --start-lr"), std::string::npos);
  o = {};
  o.steps = 1;
  EXPECT_NE(refused(o).find("--steps must be at least 2"), std::string::npos);
  o = {};
  o.smoothing = 1;
  EXPECT_NE(refused(o).find("--smoothing must be in [0, 1)"), std::string::npos);
  o = {};
  o.divergence = 0.5;
  EXPECT_NE(refused(o).find("--divergence must be 0 (never stop) or greater than 1"),
            std::string::npos);
  EXPECT_EQ(refused(LrFinderOptions{}), "accepted");
}

// The trainer takes the ramp's rates, hands each step's loss to the hook, and
// stops where the hook says, writing no checkpoint when asked not to.
TEST(LrFinder, TheTrainerRunsTheRampAndStopsWhereTheHookSays) {
  const ImageDataset data = random_image_set(24, 3, 8, 8, 5);  // 6 batches of 4 per epoch
  for (const bool write : {false, true}) {
    const nlohmann::json config_json = {
        {"network",
         {{"name", "Chain"},
          {"input", {3, 8, 8}},
          {"layers",
           {{{"type", "flatten"}},
            {{"type", "linear"}, {"name", "fc"}, {"in_features", 192}, {"out_features", 10}}}}}},
        {"training", {{"batch_size", 4}, {"optimizer", {{"lr", 0.1}, {"momentum", 0.9}}}}}};
    Config config = Config::from_json(config_json, "test.json");
    LrFinderOptions o;
    o.start_lr = 1e-4;
    o.end_lr = 1.0;
    o.steps = 20;
    LrFinder finder(o);
    config.training.optimizer.lr = o.start_lr;
    config.training.schedule = finder.schedule();
    config.training.log_every = 1;
    config.training.epochs = o.steps;
    TempDir dir;
    config.training.checkpoint = dir.file("w.safetensors");
    Context ctx(Device::CPU);
    Network net = Network::from_json(config.network, "test.json");
    net.setup(ctx, pass_batch_sizes(data.count, 4));
    Rng rng(0);
    net.initialize(rng);
    Trainer trainer(ctx, config, net, rng);
    trainer.write_checkpoints(write);
    trainer.stop_after_steps(o.steps);
    std::vector<Trainer::LogPoint> seen;
    trainer.on_log([&](const Trainer::LogPoint& p) {
      seen.push_back(p);
      finder.record(p.lr, p.loss);
      return p.step == 9;  // across an epoch boundary (6 steps per epoch)
    });
    std::ostringstream out;
    const TrainingState state = trainer.train(data, out);
    EXPECT_EQ(state.status, "stopped");
    EXPECT_EQ(state.steps, 9);
    ASSERT_EQ(seen.size(), 9u);
    for (size_t i = 0; i < seen.size(); ++i) {
      EXPECT_EQ(seen[i].step, static_cast<int64_t>(i) + 1);
      EXPECT_NEAR(seen[i].lr, finder.lr_at(static_cast<int64_t>(i)),
                  1e-12 * finder.lr_at(static_cast<int64_t>(i)));
      EXPECT_TRUE(std::isfinite(seen[i].loss) && seen[i].loss > 0) << seen[i].loss;
    }
    EXPECT_EQ(seen[6].epoch, 2);
    EXPECT_EQ(seen[6].batch, 1);
    EXPECT_EQ(std::filesystem::exists(config.training.checkpoint), write) << out.str();
  }
}

}  // namespace
}  // namespace cnne::test
