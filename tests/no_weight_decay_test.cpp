// training.optimizer.no_weight_decay: the matched parameters form PyTorch's
// second param group with weight_decay 0. Zero gradients isolate the decay:
// a decayed weight shrinks, a skipped one stays bit for bit, a frozen one
// too, for SGD (L2 and decoupled) and AdamW; the config's checks and the
// fused step's refusal. PyTorch's whole-run numbers are the parity recipes
// sgd_no_bias_decay and adamw_no_decay (tests/parity_test.cpp).
#include <gtest/gtest.h>

#include <fnmatch.h>

#include "engine/config.h"
#include "engine/error.h"
#include "engine/fused_step.h"
#include "engine/network.h"
#include "engine/optimizer.h"
#include "engine/safetensors.h"
#include "tests/test_util.h"

namespace cnne {
namespace {

struct DecayCase {
  nlohmann::json optimizer;
  std::vector<std::string> frozen;  // layer names (training.freeze)
};

bool matches_any(const std::vector<std::string>& patterns, const std::string& name) {
  for (const std::string& p : patterns)
    if (fnmatch(p.c_str(), name.c_str(), 0) == 0) return true;
  return false;
}

// One step with zero gradients: returns "" or the first parameter that moved
// unlike `decayed_value(p)` (decayed), or moved at all (skipped or frozen).
std::string check_one_step(const DecayCase& c, float (*decayed_value)(float)) {
  const Config config =
      Config::from_json(parse_json_text(Config::embedded_default(), "s.json"), "s.json");
  const OptimizerConfig o = OptimizerConfig::from_json(c.optimizer, "case");
  Context ctx(Device::CPU);
  Network net = Network::from_json(config.network, "s.json");
  net.setup(ctx, {4});
  Rng rng(5);
  net.initialize(rng);
  ops::fill(ctx, net.flat_gradients(), 0.0f);
  const std::vector<float> before = net.download_parameters();
  const auto optimizer = Optimizer::create(ctx, net, o);
  if (!c.frozen.empty()) optimizer->set_ranges(net.trainable_ranges(c.frozen));
  StepArgs args(ctx);
  optimizer->step(net, StepRates{o.lr, o.momentum_like()}, args);
  const std::vector<float> after = net.download_parameters();
  for (const NamedParam& p : net.parameters()) {
    const std::string layer = p.name.substr(0, p.name.find('.'));
    const bool frozen = matches_any(c.frozen, layer);
    const bool skipped = matches_any(o.no_weight_decay, p.name);
    for (int64_t k = 0; k < p.shape.numel(); ++k) {
      const size_t i = static_cast<size_t>(p.offset + k);
      const float want = frozen || skipped ? before[i] : decayed_value(before[i]);
      if (after[i] != want)
        return p.name + "[" + std::to_string(k) + "]: " + std::to_string(after[i]) + ", expected " +
               std::to_string(want) + (frozen ? " (frozen)" : "") +
               (skipped ? " (no weight decay)" : " (decayed)");
    }
  }
  return "";
}

TEST(NoWeightDecay, SgdSkipsTheMatchedParametersAndDecaysTheRest) {
  // L2: d = 0 + wd * p, p -= lr * d (as the kernel rounds: no FMA)
  EXPECT_EQ(check_one_step({{{"type", "sgd"},
                             {"lr", 0.1},
                             {"momentum", 0.9},
                             {"weight_decay", 0.5},
                             {"no_weight_decay", {"*.bias", "fc3.*"}}},
                            {}},
                           [](float p) {
                             volatile float d = 0.5f * p;
                             volatile float step = 0.1f * (0.0f + d);
                             return p - step;
                           }),
            "");
  // decoupled (SGDW): p *= 1 - lr * wd, frozen layers untouched
  EXPECT_EQ(check_one_step({{{"type", "sgd"},
                             {"lr", 0.1},
                             {"weight_decay", 0.5},
                             {"decoupled_weight_decay", true},
                             {"no_weight_decay", {"conv2.weight", "fc1.*"}}},
                            {"conv1", "fc2"}},
                           [](float p) {
                             volatile float scaled = p * static_cast<float>(1.0 - 0.1 * 0.5);
                             return scaled - 0.1f * 0.0f;
                           }),
            "");
}

TEST(NoWeightDecay, AdamWSkipsTheMatchedParametersAndDecaysTheRest) {
  // zero gradients: the moments stay 0, so the step is the decay alone
  EXPECT_EQ(check_one_step({{{"type", "adamw"},
                             {"lr", 0.01},
                             {"weight_decay", 0.5},
                             {"no_weight_decay", {"*.bias"}}},
                            {"fc3"}},
                           [](float p) { return p * static_cast<float>(1.0 - 0.01 * 0.5); }),
            "");
}

TEST(NoWeightDecay, ConfigChecksRoundTripAndTheFusedStepsRefusal) {
  nlohmann::json j = parse_json_text(Config::embedded_default(), "simplecnn.json");
  j["training"]["optimizer"]["weight_decay"] = 5e-4;
  j["training"]["optimizer"]["no_weight_decay"] = {"*.bias"};
  const Config c = Config::from_json(j, "c.json");
  EXPECT_EQ(c.training.optimizer.no_weight_decay, std::vector<std::string>{"*.bias"});
  EXPECT_EQ(Config::from_json(c.to_json(), "again").training.optimizer.no_weight_decay,
            std::vector<std::string>{"*.bias"});
  EXPECT_FALSE(OptimizerConfig{}.to_json().contains("no_weight_decay"));  // old configs unchanged
  const Network net = Network::from_json(c.network, "c.json");
  EXPECT_EQ(FusedStep::unsupported_reason(net, c),
            "it decays every parameter alike; training.optimizer.no_weight_decay is set");

  for (const auto& [value, expected] :
       {std::pair{nlohmann::json({""}),
                  "c.json: training.optimizer: key 'no_weight_decay' holds an empty pattern"},
        std::pair{nlohmann::json("*.bias"), "key 'no_weight_decay'"}}) {
    nlohmann::json bad = j;
    bad["training"]["optimizer"]["no_weight_decay"] = value;
    try {
      Config::from_json(bad, "c.json");
      ADD_FAILURE() << "no error for " << value;
    } catch (const ConfigError& e) {
      EXPECT_NE(std::string(e.what()).find(expected), std::string::npos) << e.what();
    }
  }
  // a pattern that matches no parameter names the network and what names look like
  OptimizerConfig typo = c.training.optimizer;
  typo.no_weight_decay = {"*.biases"};
  try {
    Optimizer::check_patterns(net, typo);
    ADD_FAILURE() << "no error for a pattern that matches nothing";
  } catch (const ConfigError& e) {
    EXPECT_NE(std::string(e.what()).find("training.optimizer.no_weight_decay: '*.biases' matches "
                                         "no parameter of network 'SimpleCNN' (names like "
                                         "'fc3.bias')"),
              std::string::npos)
        << e.what();
  }
}

// Through the CLI: the pattern is checked before the data is read, and a run
// with it trains and stores it.
TEST(NoWeightDecay, TrainCommandChecksThePatternsFirstAndStoresThem) {
  test::TempDir data, out;
  test::make_small_cifar(data, 8, 10);
  nlohmann::json config = parse_json_text(Config::embedded_default(), "simplecnn.json");
  config["training"]["optimizer"]["weight_decay"] = 5e-4;
  config["training"]["optimizer"]["no_weight_decay"] = {"bn*"};
  test::write_text(out.file("bad.json"), config.dump());
  const test::RunResult bad =
      test::run_cli("train " + out.file("bad.json") + " --device cpu --data /nonexistent --out " +
                    out.file("w.safetensors"));
  EXPECT_EQ(bad.exit_code, 1);  // a ConfigError, before /nonexistent is looked at
  EXPECT_NE(bad.err.find("training.optimizer.no_weight_decay: 'bn*' matches no parameter"),
            std::string::npos)
      << bad.err;
  config["training"]["optimizer"]["no_weight_decay"] = {"*.bias"};
  test::write_text(out.file("c.json"), config.dump());
  const test::RunResult r =
      test::run_cli("train " + out.file("c.json") + " --device cpu --epochs 1 --data " +
                    data.path().string() + " --out " + out.file("w.safetensors"));
  ASSERT_EQ(r.exit_code, 0) << r.err;
  const nlohmann::json stored =
      nlohmann::json::parse(load_safetensors(out.file("w.safetensors")).metadata.at("config"));
  EXPECT_EQ(stored["training"]["optimizer"]["no_weight_decay"], nlohmann::json({"*.bias"}));
}

}  // namespace
}  // namespace cnne
