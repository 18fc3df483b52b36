// Parity with PyTorch (llm.c's idea): tools/make_parity_fixtures.py ran the
// tutorial's model in PyTorch from fixed weights on fixed batches; cnnengine
// must reproduce its losses, first-step gradients and final weights.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>

#include "engine/checkpoint.h"
#include "engine/config.h"
#include "engine/device_dataset.h"
#include "engine/gradient_clipper.h"
#include "engine/loss_meter.h"
#include "engine/ops.h"
#include "engine/optimizer.h"
#include "engine/schedule.h"
#include "engine/weight_average.h"
#include "tests/parity.h"
#include "tests/test_util.h"

namespace cnne::test {
namespace {

// Worst |a - b| - (abs + rel * |b|) over all elements; <= 0 means within tolerance.
std::string compare(const std::string& what, const float* a, const float* b, int64_t n,
                    double abs_tol, double rel_tol) {
  double worst = 0;
  int64_t at = -1;
  for (int64_t i = 0; i < n; ++i) {
    const double excess =
        std::fabs(double(a[i]) - double(b[i])) - abs_tol - rel_tol * std::fabs(double(b[i]));
    if (excess > worst || std::isnan(a[i])) {
      worst = std::isnan(a[i]) ? INFINITY : excess;
      at = i;
    }
  }
  if (at < 0) return "";
  return what + "[" + std::to_string(at) + "]: cnnengine " + std::to_string(a[at]) + ", PyTorch " +
         std::to_string(b[at]);
}

}  // namespace

std::vector<std::string> parity_recipes() {
  return {"tutorial",
          "decay",
          "nesterov_smoothing",
          "adam_step",
          "adamw_onecycle",
          "sgd_warmup_cosine",
          "sgd_clip",
          "sgd_ema",
          "sgd_no_bias_decay",
          "adamw_no_decay",
          "adam_amsgrad",
          "adamw_amsgrad_cosine",
          "rmsprop",
          "rmsprop_centered_momentum",
          "rmsprop_onecycle",
          "adagrad",
          "adagrad_decay"};
}

std::vector<std::string> run_parity(Device device, const std::string& recipe) {
  std::vector<std::string> problems;
  const Safetensors fixture = load_safetensors(fixtures_dir() + "/simplecnn_parity.safetensors");
  const int steps = std::stoi(fixture.metadata.at("steps"));
  const auto recipes = nlohmann::json::parse(fixture.metadata.at("recipes"));
  const auto& spec = recipes.at(recipe);  // in cnnengine's config terms

  Config config = Config::from_json(parse_json_text(Config::embedded_default(), "simplecnn.json"),
                                    "simplecnn.json");
  config.training.optimizer = OptimizerConfig::from_json(spec.at("optimizer"), recipe);
  if (spec.contains("schedule"))
    config.training.schedule = ScheduleConfig::from_json(spec.at("schedule"), recipe);
  const auto smoothing = static_cast<float>(spec.value("label_smoothing", 0.0));
  const double clip = spec.value("clip_grad_norm", 0.0);
  const LrSchedule schedule(config.training.schedule, config.training.optimizer, 1, steps);

  Context ctx(device);
  Network net = Network::from_json(config.network, "simplecnn.json");
  net.setup(ctx, {4});
  load_weights(strip_prefix(fixture, "init."), "fixture init", net);
  const auto optimizer = Optimizer::create(ctx, net, config.training.optimizer);
  StepArgs args(ctx);
  const Normalization norm(config.data.mean, config.data.std);
  const float* expected_losses = fixture.find(recipe + ".losses")->view().f32();
  std::unique_ptr<GradientClipper> clipper;
  if (clip > 0) clipper = std::make_unique<GradientClipper>(ctx, clip);
  std::unique_ptr<WeightAverage> average;  // AveragedModel's EMA, updated after every step
  if (const double decay = spec.value("ema_decay", 0.0); decay > 0)
    average = std::make_unique<WeightAverage>(ctx, net, decay, false);

  Buffer label_buffer(ctx.device(), 4 * sizeof(int32_t));
  const Tensor label_view(static_cast<int32_t*>(label_buffer.data()), Shape{4}, ctx.device());
  ImageDataset batch;  // one batch of 4 at a time, through the real batch assembly
  batch.count = 4;
  for (int k = 0; k < steps; ++k) {
    const auto* pixels = fixture.find("batch." + std::to_string(k) + ".pixels");
    const auto* labels = fixture.find("batch." + std::to_string(k) + ".labels");
    batch.pixels = pixels->bytes;
    batch.labels.assign(labels->view().i32(), labels->view().i32() + 4);
    DeviceDataset dataset(ctx, batch, norm);
    LossMeter meter(ctx);
    dataset.load(0, 4, net.input(4), label_view, args);
    const Tensor logits = net.forward(4);
    const Tensor dlogits = net.output_grad(4);
    ops::softmax_cross_entropy(ctx, logits, label_view, smoothing, nullptr, &dlogits,
                               meter.loss_sum(), meter.correct());
    net.backward(4);
    const float loss = static_cast<float>(meter.read().loss_sum);
    if (auto p = compare(recipe + " loss of step " + std::to_string(k), &loss, &expected_losses[k],
                         1, 1e-6, 1e-5);
        !p.empty())
      problems.push_back(p);
    if (k == 0 && recipe == "tutorial") {
      for (size_t i = 0; i < net.parameters().size(); ++i) {
        const std::string& name = net.parameters()[i].name;
        std::vector<float> host(static_cast<size_t>(net.gradient(i).numel()));
        copy_tensor(net.gradient(i), Tensor(host.data(), net.gradient(i).shape));
        if (auto p =
                compare("grad " + name, host.data(), fixture.find("grad0." + name)->view().f32(),
                        net.gradient(i).numel(), 1e-6, 1e-4);
            !p.empty())
          problems.push_back(p);
      }
    }
    if (clipper) {  // clip_grad_norm_'s norm (before clipping), then the clipped step
      clipper->clip(net.flat_gradients());
      const auto total = static_cast<float>(clipper->last_norm());
      const float* expected = fixture.find(recipe + ".grad_norms")->view().f32();
      if (auto p = compare(recipe + " grad norm of step " + std::to_string(k), &total, &expected[k],
                           1, 1e-6, 1e-5);
          !p.empty())
        problems.push_back(p);
    }
    optimizer->step(net, schedule.at(0, k), args);
    if (average) {
      average->apply(net);
      average->count_update();
    }
  }
  // The weights trained, then (exchanged into the network) the average.
  for (const std::string kind : {"final", "average"}) {
    if (kind == "average" && !average) break;
    if (kind == "average") average->exchange(net);
    const std::vector<float> weights = net.download_parameters();
    int compared = 0;
    for (const NamedParam& p : net.parameters()) {
      const SafetensorsTensor* expected = fixture.find(recipe + "." + kind + "." + p.name);
      if (!expected) continue;  // the fixture keeps a subset for some recipes
      ++compared;
      if (auto problem = compare(recipe + " " + kind + " " + p.name, weights.data() + p.offset,
                                 expected->view().f32(), p.shape.numel(), 1e-6, 1e-4);
          !problem.empty())
        problems.push_back(problem);
    }
    if (compared == 0) problems.push_back(recipe + ": the fixture holds no " + kind + " weights");
  }
  return problems;
}

namespace {

class PyTorchParity : public ::testing::TestWithParam<std::string> {};

TEST_P(PyTorchParity, OnCpu) {
  for (const auto& p : run_parity(Device::CPU, GetParam())) ADD_FAILURE() << p;
}

INSTANTIATE_TEST_SUITE_P(Recipes, PyTorchParity, ::testing::ValuesIn(parity_recipes()),
                         [](const auto& test) { return test.param; });

// A recipe added to tools/make_parity_fixtures.py is run here (and on the GPU) only once
// parity_recipes() names it.
TEST(PyTorchParityFixture, EveryRecipeOfTheFixtureIsRun) {
  const Safetensors fixture = load_safetensors(fixtures_dir() + "/simplecnn_parity.safetensors");
  const std::vector<std::string> run = parity_recipes();
  const nlohmann::json recipes = nlohmann::json::parse(fixture.metadata.at("recipes"));
  for (const auto& [name, spec] : recipes.items())
    EXPECT_NE(std::find(run.begin(), run.end(), name), run.end()) << name << " is not run";
  EXPECT_EQ(run.size(), recipes.size());
}

}  // namespace
}  // namespace cnne::test
