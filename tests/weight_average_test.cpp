// training.ema_decay (engine/weight_average.h): the average's arithmetic,
// frozen ranges and BatchNorm buffers, the exchange with the network, the
// training weights in the optimizer file, and runs through the CLI (the
// checkpoint holds the average, training is unchanged by it, resume is exact).
// tests/parity_test.cpp holds it against PyTorch's AveragedModel (sgd_ema).
#include <gtest/gtest.h>

#include <filesystem>
#include <regex>

#include "engine/checkpoint_saver.h"
#include "engine/config.h"
#include "engine/error.h"
#include "engine/safetensors.h"
#include "engine/weight_average.h"
#include "tests/test_util.h"

namespace cnne::test {
namespace {

// conv (with bias) -> BatchNorm -> pool -> linear: parameters and running statistics.
Network small_net(Context& ctx) {
  Network net = Network::from_json(conv_bn_head_network(8), "small.json");
  net.setup(ctx, {2});
  Rng rng(5);
  net.initialize(rng);
  return net;
}

// Every float of the layout set to f(i).
template <typename F>
std::vector<float> filled(size_t n, F f) {
  std::vector<float> v(n);
  for (size_t i = 0; i < n; ++i) v[i] = f(i);
  return v;
}

// A layout of n floats with the tensors of `names` set to f(i) and the
// alignment gaps between them zero, as they always are in a network.
template <typename F>
std::vector<float> in_layout(const std::vector<NamedParam>& names, size_t n, F f) {
  std::vector<float> v(n, 0.0f);
  for (const NamedParam& p : names)
    for (int64_t i = p.offset; i < p.offset + p.shape.numel(); ++i)
      v[static_cast<size_t>(i)] = f(static_cast<size_t>(i));
  return v;
}

TEST(WeightAverage, FirstUpdateCopiesThenEachIsDecayTimesAverageOnePlusTheRest) {
  Context ctx(Device::CPU);
  Network net = small_net(ctx);
  WeightAverage average(ctx, net, 0.75, /*buffers=*/true);
  const size_t P = net.download_parameters().size(), B = net.download_buffers().size();
  const auto w1 = filled(P, [](size_t i) { return 0.01f * float(i % 97); });
  const auto w2 = filled(P, [](size_t i) { return -0.02f * float(i % 89); });
  const auto b1 = filled(B, [](size_t i) { return 1.0f + float(i); });
  const auto b2 = filled(B, [](size_t i) { return 3.0f - float(i); });
  net.upload_parameters(w1);
  net.upload_buffers(b1);
  average.apply(net);  // a copy
  average.count_update();
  net.upload_parameters(w2);
  net.upload_buffers(b2);
  average.apply(net);
  average.count_update();
  EXPECT_EQ(average.updates(), 2);

  average.exchange(net);  // the network now holds the average, the average the weights
  EXPECT_TRUE(average.network_holds_average());
  const std::vector<float> avg = net.download_parameters(), avg_b = net.download_buffers();
  // (One rounding of each product and of the sum: within a few ulps of the largest term.)
  for (size_t i = 0; i < P; ++i) EXPECT_NEAR(avg[i], 0.75f * w1[i] + 0.25f * w2[i], 2e-6) << i;
  for (size_t i = 0; i < B; ++i) EXPECT_NEAR(avg_b[i], 0.75f * b1[i] + 0.25f * b2[i], 1e-6) << i;
  average.exchange(net);  // and back, exactly
  EXPECT_EQ(net.download_parameters(), w2);
  EXPECT_EQ(net.download_buffers(), b2);
}

TEST(WeightAverage, WithoutEmaBuffersTheNetworksOwnStatisticsServeAndFrozenRangesStayExact) {
  Context ctx(Device::CPU);
  Network net = small_net(ctx);
  WeightAverage average(ctx, net, 0.5, /*buffers=*/false);
  const std::vector<std::pair<int64_t, int64_t>> ranges = net.trainable_ranges({"c"});  // c frozen
  average.set_ranges(ranges);
  const size_t P = net.download_parameters().size();
  const auto w1 = filled(P, [](size_t i) { return 0.1f + 0.001f * float(i); });
  net.upload_parameters(w1);
  average.apply(net);
  average.count_update();
  const auto w2 = filled(P, [](size_t i) { return 0.3f - 0.002f * float(i); });
  net.upload_parameters(w2);
  const std::vector<float> stats = net.download_buffers();
  average.apply(net);
  average.count_update();
  average.exchange(net);
  const std::vector<float> avg = net.download_parameters();
  EXPECT_EQ(net.download_buffers(), stats);  // not averaged: the network's own
  std::vector<char> trainable(P, 0);
  for (const auto& [begin, end] : ranges)
    for (int64_t i = begin; i < end; ++i) trainable[static_cast<size_t>(i)] = 1;
  for (size_t i = 0; i < P; ++i) {
    if (trainable[i])
      EXPECT_NEAR(avg[i], 0.5f * w1[i] + 0.5f * w2[i], 2e-6) << i;
    else
      EXPECT_EQ(avg[i], w1[i]) << i;  // frozen: the first copy, bit for bit
  }
}

TEST(WeightAverage, WithAverageRunsOnTheAverageAndRestoresTheWeightsAlsoOnAnError) {
  Context ctx(Device::CPU);
  Network net = small_net(ctx);
  WeightAverage average(ctx, net, 0.9, false);
  const std::vector<float> initial = net.download_parameters();
  bool ran = false;
  with_average(&average, net, [&] {  // no update yet: the average is the weights
    ran = true;
    EXPECT_EQ(net.download_parameters(), initial);
  });
  EXPECT_TRUE(ran);
  average.apply(net);
  average.count_update();
  net.upload_parameters(filled(initial.size(), [](size_t) { return 1.0f; }));
  const std::vector<float> trained = net.download_parameters();
  EXPECT_THROW(with_average(&average, net,
                            [&] {
                              EXPECT_EQ(net.download_parameters(), initial);  // the average
                              throw Error("evaluation failed");
                            }),
               Error);
  EXPECT_FALSE(average.network_holds_average());
  EXPECT_EQ(net.download_parameters(), trained);
  with_average(nullptr, net, [&] { EXPECT_EQ(net.download_parameters(), trained); });
}

TEST(WeightAverage, TrainingWeightsRoundTripThroughTheOptimizerFile) {
  Context ctx(Device::CPU);
  Network net = small_net(ctx);
  WeightAverage average(ctx, net, 0.8, true);
  average.apply(net);  // the average: the initial weights
  average.count_update();
  const std::vector<float> avg = net.download_parameters(), avg_b = net.download_buffers();
  const auto trained =
      in_layout(net.parameters(), avg.size(), [](size_t i) { return 0.5f - 0.003f * float(i); });
  const auto trained_b =
      in_layout(net.buffers(), avg_b.size(), [](size_t i) { return 2.0f + float(i); });
  net.upload_parameters(trained);
  net.upload_buffers(trained_b);
  Safetensors file;
  file.metadata = {{"optimizer", "sgd"}, {"steps", "1"}};
  average.exchange(net);  // as the saver does: exported wherever the weights are
  average.export_training_weights(net, file);
  average.exchange(net);
  EXPECT_EQ(file.metadata.at("ema_updates"), "1");
  EXPECT_EQ(file.metadata.at("ema_buffers"), "true");
  EXPECT_EQ(file.tensors.size(), net.parameters().size() + net.buffers().size());

  // A resumed run: the checkpoint's tensors (the average) are in a fresh network.
  Network again = small_net(ctx);
  again.upload_parameters(avg);
  again.upload_buffers(avg_b);
  WeightAverage resumed(ctx, again, 0.8, true);
  const Safetensors rest = restore_training_weights(file, "opt.safetensors", again, &resumed);
  EXPECT_TRUE(rest.tensors.empty());  // what the optimizer reads: no training weights
  EXPECT_EQ(resumed.updates(), 1);
  EXPECT_EQ(again.download_parameters(), trained);
  EXPECT_EQ(again.download_buffers(), trained_b);
  resumed.exchange(again);
  EXPECT_EQ(again.download_parameters(), avg);
  EXPECT_EQ(again.download_buffers(), avg_b);
  resumed.exchange(again);

  // Bad files are errors that name the file and the tensor, and change nothing.
  Safetensors broken = file;
  broken.tensors.pop_back();
  Network third = small_net(ctx);
  const std::vector<float> before = third.download_parameters();
  try {
    restore_training_weights(broken, "opt.safetensors", third, nullptr);
    ADD_FAILURE() << "no error";
  } catch (const CheckpointError& e) {
    EXPECT_NE(std::string(e.what()).find("opt.safetensors"), std::string::npos) << e.what();
  }
  EXPECT_EQ(third.download_parameters(), before);
  Safetensors bad_count = file;
  bad_count.metadata["ema_updates"] = "many";
  EXPECT_THROW(restore_training_weights(bad_count, "opt.safetensors", third, nullptr),
               CheckpointError);
}

TEST(WeightAverage, ConfigKeyAndFlagAreChecked) {
  nlohmann::json config = parse_json_text(Config::embedded_default(), "simplecnn.json");
  config["training"]["ema_decay"] = 1.0;
  EXPECT_THROW(Config::from_json(config, "c.json"), ConfigError);
  config["training"]["ema_decay"] = -0.1;
  EXPECT_THROW(Config::from_json(config, "c.json"), ConfigError);
  config["training"]["ema_decay"] = 0.999;
  config["training"]["ema_buffers"] = true;
  const Config c = Config::from_json(config, "c.json");
  EXPECT_EQ(c.training.ema_decay, 0.999);
  EXPECT_TRUE(c.training.ema_buffers);
  EXPECT_EQ(Config::from_json(c.to_json(), "again").to_json(), c.to_json());
  const RunResult bad = run_cli("train --device cpu --ema 1.5");
  EXPECT_NE(bad.exit_code, 0);
  EXPECT_NE(bad.err.find("--ema"), std::string::npos) << bad.err;
  config["training"]["fused_step"] = true;
  TempDir dir, data;
  make_small_cifar(data, 4, 4);
  write_text(dir.file("c.json"), config.dump());
  const RunResult fused = run_cli("train " + dir.file("c.json") + " --device cpu --data " +
                                  data.path().string() + " --out " + dir.file("w.safetensors"));
  EXPECT_NE(fused.exit_code, 0);
  EXPECT_NE(fused.err.find("training.ema_decay"), std::string::npos) << fused.err;
}

// ---- through the CLI

// The tensors of `prefix`... in a checkpoint's optimizer file, without the prefix.
Safetensors optimizer_tensors(const std::string& checkpoint, const std::string& prefix) {
  const ResumePoint r = read_resume_point(checkpoint);
  return strip_prefix(r.optimizer, prefix);
}

std::string final_accuracy(const std::string& out) {
  std::smatch m;
  static const std::regex re("Accuracy of the network on the [0-9]+ test images: ([0-9.]+)%");
  return std::regex_search(out, m, re) ? m[1].str() : "";
}

struct Runs {
  TempDir data, out;
  std::string common;
  Runs() {
    make_small_cifar(data, 8, 12);  // 40 training images: 10 steps of 4 per epoch
    common = "train --device cpu --deterministic --epochs 3 --log-every 5 --data " +
             data.path().string() + " ";
  }
  std::string ckpt(const std::string& name) const { return out.file(name + ".safetensors"); }
};

TEST(WeightAverageRuns, CheckpointHoldsTheAverageAndTrainingIsUnchangedByIt) {
  Runs runs;
  const RunResult plain = run_cli(runs.common + "--out " + runs.ckpt("plain"));
  ASSERT_EQ(plain.exit_code, 0) << plain.err;
  const RunResult ema = run_cli(runs.common + "--ema 0.8 --out " + runs.ckpt("ema"));
  ASSERT_EQ(ema.exit_code, 0) << ema.err;
  EXPECT_NE(ema.out.find("Weight averaging: an exponential moving average of the weights after "
                         "every step, decay 0.8; evaluations and checkpoints use the average"),
            std::string::npos)
      << ema.out;
  EXPECT_EQ(loss_lines(ema.out), loss_lines(plain.out));  // the same training
  // The optimizer file's training weights are the plain run's weights, bit for bit.
  const Safetensors trained = optimizer_tensors(runs.ckpt("ema"), "training_weights.");
  const Checkpoint plain_ckpt = read_checkpoint(runs.ckpt("plain"));
  ASSERT_EQ(trained.tensors.size(), plain_ckpt.file.tensors.size());
  for (const SafetensorsTensor& t : plain_ckpt.file.tensors) {
    const SafetensorsTensor* same = trained.find(t.name);
    ASSERT_NE(same, nullptr) << t.name;
    EXPECT_EQ(same->bytes, t.bytes) << t.name;
  }
  // The checkpoint itself is the average: other weights, evaluated as train evaluated them.
  EXPECT_NE(digest_of(runs.ckpt("ema")), digest_of(runs.ckpt("plain")));
  const RunResult eval = run_cli("eval --device cpu --checkpoint " + runs.ckpt("ema") + " --data " +
                                 runs.data.path().string());
  ASSERT_EQ(eval.exit_code, 0) << eval.err;
  EXPECT_EQ(final_accuracy(eval.out), final_accuracy(ema.out));
  EXPECT_FALSE(final_accuracy(ema.out).empty()) << ema.out;
  const RunResult inspect = run_cli("inspect " + runs.ckpt("ema"));
  EXPECT_NE(inspect.out.find("weights: an exponential moving average (decay 0.8"),
            std::string::npos)
      << inspect.out;
}

TEST(WeightAverageRuns, StopAndResumeIsBitIdenticalToOneRun) {
  Runs runs;
  const std::string ema = runs.common + "--ema 0.7 ";
  ASSERT_EQ(run_cli(ema + "--out " + runs.ckpt("full")).exit_code, 0);
  const std::string expected = digest_of(runs.ckpt("full"));
  ASSERT_FALSE(expected.empty());
  const Safetensors expected_trained = optimizer_tensors(runs.ckpt("full"), "training_weights.");
  for (int k : {1, 10, 23}) {
    const std::string path = runs.ckpt("part" + std::to_string(k));
    ASSERT_EQ(run_cli(ema + "--stop-after-steps " + std::to_string(k) + " --out " + path).exit_code,
              0);
    const RunResult rest =
        run_cli("train --resume " + path + " --device cpu --data " + runs.data.path().string());
    ASSERT_EQ(rest.exit_code, 0) << rest.err;
    EXPECT_EQ(digest_of(path), expected) << "stopped after " << k << " steps";
    const Safetensors trained = optimizer_tensors(path, "training_weights.");
    ASSERT_EQ(trained.tensors.size(), expected_trained.tensors.size());
    for (size_t i = 0; i < trained.tensors.size(); ++i)
      EXPECT_EQ(trained.tensors[i].bytes, expected_trained.tensors[i].bytes) << k;
  }
}

TEST(WeightAverageRuns, ResumingWithTheAverageTurnedOffOrOnContinuesTheTraining) {
  Runs runs;
  ASSERT_EQ(run_cli(runs.common + "--out " + runs.ckpt("plain")).exit_code, 0);
  // Averaged for 13 steps, then resumed without: the training weights carry on.
  const std::string off = runs.ckpt("off");
  ASSERT_EQ(run_cli(runs.common + "--ema 0.9 --stop-after-steps 13 --out " + off).exit_code, 0);
  const RunResult rest = run_cli("train --resume " + off + " --ema 0 --device cpu --data " +
                                 runs.data.path().string());
  ASSERT_EQ(rest.exit_code, 0) << rest.err;
  EXPECT_NE(rest.out.find("Recipe change on resume: training.ema_decay 0.9 -> 0.0"),
            std::string::npos)
      << rest.out;
  EXPECT_FALSE(digest_of(off).empty());
  EXPECT_EQ(digest_of(off), digest_of(runs.ckpt("plain")));
  // Not averaged for 13 steps, then resumed with an average: it starts there.
  const std::string on = runs.ckpt("on");
  ASSERT_EQ(run_cli(runs.common + "--stop-after-steps 13 --out " + on).exit_code, 0);
  const RunResult with = run_cli("train --resume " + on + " --ema 0.9 --device cpu --data " +
                                 runs.data.path().string());
  ASSERT_EQ(with.exit_code, 0) << with.err;
  const ResumePoint r = read_resume_point(on);
  EXPECT_EQ(r.optimizer.metadata.at("ema_updates"), "17");  // steps 14..30
  const Safetensors trained = strip_prefix(r.optimizer, "training_weights.");
  const Checkpoint plain = read_checkpoint(runs.ckpt("plain"));
  for (const SafetensorsTensor& t : plain.file.tensors)
    EXPECT_EQ(trained.find(t.name)->bytes, t.bytes) << t.name;  // training unchanged by it
}

}  // namespace
}  // namespace cnne::test
