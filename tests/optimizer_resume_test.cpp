// RMSprop, Adagrad and AMSGrad through the cnnengine binary: every state
// buffer PyTorch keeps (the optional ones only when used) goes to the
// optimizer-state file under PyTorch's names, and a stopped run resumes bit
// for bit.
#include <gtest/gtest.h>

#include <filesystem>

#include "engine/config.h"
#include "engine/error.h"
#include "engine/network.h"
#include "engine/optimizer.h"
#include "engine/safetensors.h"
#include "tests/test_util.h"

namespace cnne::test {
namespace {

struct OptimizerCase {
  const char* name;
  const char* optimizer;           // training.optimizer, JSON
  std::vector<std::string> state;  // the state per parameter, in order
};

class OptimizerResume : public ::testing::TestWithParam<OptimizerCase> {};

TEST_P(OptimizerResume, StateFileHoldsPyTorchsBuffersAndResumesExactly) {
  TempDir data, out;
  make_small_cifar(data, 8, 8);  // 40 images, batch 4: 10 steps per epoch
  nlohmann::json config = nlohmann::json::parse(Config::embedded_default(), nullptr, true, true);
  config["training"]["optimizer"] = nlohmann::json::parse(GetParam().optimizer);
  config["training"]["schedule"] = {{"type", "cosine"}, {"unit", "step"}};
  write_text(out.file("recipe.json"), config.dump());
  const std::string recipe = "train " + out.file("recipe.json") +
                             " --device cpu --no-eval --deterministic --epochs 2 --data " +
                             data.path().string();
  const std::string full = out.file("full.safetensors"), part = out.file("part.safetensors");
  const RunResult one = run_cli(recipe + " --out " + full);
  ASSERT_EQ(one.exit_code, 0) << one.err;
  const RunResult first = run_cli(recipe + " --stop-after-steps 7 --out " + part);
  ASSERT_EQ(first.exit_code, 0) << first.err;

  const Safetensors state = load_safetensors(out.file("part.optimizer.step-7.safetensors"));
  EXPECT_EQ(state.metadata.at("optimizer"),
            nlohmann::json::parse(GetParam().optimizer).at("type").get<std::string>());
  EXPECT_EQ(state.metadata.at("steps"), "7");
  EXPECT_EQ(state.tensors.size(), 10 * GetParam().state.size());  // the tutorial's 10 parameters
  for (const std::string& buffer : GetParam().state)
    for (const char* param : {"conv1.weight", "fc3.bias"}) {
      const SafetensorsTensor* t = state.find(std::string(param) + "." + buffer);
      ASSERT_NE(t, nullptr) << param << "." << buffer;
      bool moved = false;  // every buffer has left its start after 7 steps
      for (int64_t i = 0; i < t->view().shape.numel(); ++i)
        moved = moved || t->view().f32()[i] != (buffer == "sum" ? 0.1f : 0.0f);
      EXPECT_TRUE(moved) << param << "." << buffer;
    }

  const RunResult rest =
      run_cli("train --resume " + part + " --no-eval --device cpu --data " + data.path().string());
  ASSERT_EQ(rest.exit_code, 0) << rest.err;
  EXPECT_EQ(digest_of(part), digest_of(full));
}

INSTANTIATE_TEST_SUITE_P(
    Types, OptimizerResume,
    ::testing::Values(
        OptimizerCase{"rmsprop", R"({"type": "rmsprop", "lr": 0.001})", {"square_avg"}},
        OptimizerCase{"rmsprop_centered_momentum",
                      R"({"type": "rmsprop", "lr": 0.001, "momentum": 0.9, "centered": true,
                          "weight_decay": 1e-4})",
                      {"square_avg", "momentum_buffer", "grad_avg"}},
        OptimizerCase{"adagrad",
                      R"({"type": "adagrad", "lr": 0.01, "lr_decay": 0.01,
                          "initial_accumulator_value": 0.1})",
                      {"sum"}},
        OptimizerCase{"amsgrad",
                      R"({"type": "adamw", "lr": 0.002, "amsgrad": true})",
                      {"exp_avg", "exp_avg_sq", "max_exp_avg_sq"}}),
    [](const auto& test) { return std::string(test.param.name); });

// A state file saved with other buffer-adding settings (amsgrad, RMSprop's
// momentum or centered) is refused by name, not by a count of tensors.
TEST(OptimizerStateFile, OfOtherSettingsIsRefusedByName) {
  const nlohmann::json config =
      nlohmann::json::parse(Config::embedded_default(), nullptr, true, true);
  Network net = Network::from_json(config["network"], "tutorial");
  Context ctx(Device::CPU);
  net.setup(ctx, {1});
  // A file of `buffers` per parameter, as export_state writes it after 3 steps.
  std::vector<std::vector<float>> memory;
  auto state_file = [&](const std::string& type, const std::vector<std::string>& buffers) {
    Safetensors file;
    file.metadata["optimizer"] = type;
    file.metadata["steps"] = "3";
    for (const std::string& buffer : buffers)
      for (const NamedParam& p : net.parameters()) {
        memory.emplace_back(static_cast<size_t>(p.shape.numel()), 0.5f);
        file.add(p.name + "." + buffer, Tensor(memory.back().data(), p.shape));
      }
    return file;
  };
  auto refusal = [&](const char* optimizer, const Safetensors& file) {
    const auto o = Optimizer::create(
        ctx, net, OptimizerConfig::from_json(nlohmann::json::parse(optimizer), "run.json"));
    try {
      o->import_state(file, "s.safetensors", net);
    } catch (const CheckpointError& e) {
      return std::string(e.what());
    }
    return std::string("(accepted)");
  };
  const Safetensors adam = state_file("adam", {"exp_avg", "exp_avg_sq"});
  EXPECT_EQ(refusal(R"({"type": "adam", "lr": 0.001})", adam), "(accepted)");
  EXPECT_EQ(refusal(R"({"type": "adam", "lr": 0.001, "amsgrad": true})", adam),
            "s.safetensors: the saved Adam state lacks 'max_exp_avg_sq', which this "
            "run's optimizer keeps; resume with the optimizer settings it was saved with "
            "(amsgrad, momentum, centered)");
  const Safetensors amsgrad = state_file("adam", {"exp_avg", "exp_avg_sq", "max_exp_avg_sq"});
  EXPECT_NE(refusal(R"({"type": "adam", "lr": 0.001})", amsgrad)
                .find("holds 'max_exp_avg_sq', which this run's optimizer does not keep"),
            std::string::npos);
  const Safetensors centered = state_file("rmsprop", {"square_avg", "grad_avg"});
  EXPECT_NE(refusal(R"({"type": "rmsprop", "lr": 0.001, "momentum": 0.9})", centered)
                .find("holds 'grad_avg', which this run's optimizer does not keep, and lacks "
                      "'momentum_buffer'"),
            std::string::npos);
}

// The config keeps what it read: the new keys survive a checkpoint's config.
TEST(OptimizerConfigRoundTrip, NewTypesAndKeysRoundTrip) {
  for (const char* text :
       {R"({"type": "rmsprop", "lr": 0.001, "alpha": 0.9, "eps": 1e-6, "momentum": 0.5,
            "centered": true, "weight_decay": 0.001})",
        R"({"type": "adagrad", "lr": 0.01, "lr_decay": 0.2, "initial_accumulator_value": 0.3,
            "eps": 1e-9})",
        R"({"type": "adam", "lr": 0.001, "amsgrad": true})"}) {
    const nlohmann::json written = nlohmann::json::parse(text);
    const OptimizerConfig o = OptimizerConfig::from_json(written, "t.json");
    const OptimizerConfig again = OptimizerConfig::from_json(o.to_json(), "again");
    EXPECT_EQ(again.to_json(), o.to_json()) << text;
    for (const auto& [key, value] : written.items())
      EXPECT_EQ(o.to_json().at(key), value) << text << " " << key;
  }
  const OptimizerConfig adagrad =
      OptimizerConfig::from_json(nlohmann::json::parse(R"({"type": "adagrad", "lr": 0.01})"), "t");
  EXPECT_EQ(adagrad.eps, 1e-10);  // PyTorch's default for Adagrad
  const OptimizerConfig rmsprop =
      OptimizerConfig::from_json(nlohmann::json::parse(R"({"type": "rmsprop", "lr": 0.01})"), "t");
  EXPECT_EQ(rmsprop.alpha, 0.99);
  EXPECT_EQ(rmsprop.eps, 1e-8);
}

}  // namespace
}  // namespace cnne::test
