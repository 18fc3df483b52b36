// MixUp / CutMix (Note [batch mixing] in engine/mixing.h): the Beta draws,
// each batch's mixing, the mixed batch, and the cross-entropy of mixed targets.
#include <gtest/gtest.h>

#include <cmath>
#include <set>

#include "engine/batch_assembly.h"
#include "engine/config.h"
#include "engine/error.h"
#include "engine/mixing.h"
#include "engine/ops.h"
#include "tests/test_util.h"

namespace cnne::test {
namespace {

TEST(Mixing, BetaDrawsHaveTheBetaMeanAndVariance) {
  for (const double alpha : {0.2, 1.0, 4.0}) {
    Rng rng(7);
    const int draws = 40000;
    double sum = 0, sum_sq = 0;
    for (int i = 0; i < draws; ++i) {
      const double x = sample_beta(rng, alpha);
      ASSERT_GE(x, 0.0);
      ASSERT_LE(x, 1.0);
      sum += x;
      sum_sq += x * x;
    }
    const double mean = sum / draws, var = sum_sq / draws - mean * mean;
    const double want_var = 1.0 / (4.0 * (2.0 * alpha + 1.0));  // Beta(a, a)
    EXPECT_NEAR(mean, 0.5, 0.01) << alpha;
    EXPECT_NEAR(var / want_var, 1.0, 0.05) << alpha;
  }
}

TEST(Mixing, EachBatchDrawsItsOwnMixingFromTheKey) {
  AugmentConfig mixup;
  mixup.mixup = 0.4;
  BatchArgs a, b, c;
  draw_mix(mixup, 11, 3, 8, 32, 32, a);
  draw_mix(mixup, 11, 3, 8, 32, 32, b);
  draw_mix(mixup, 11, 4, 8, 32, 32, c);
  EXPECT_EQ(a.mix_mode, kMixUp);
  EXPECT_EQ(a.count, 8);
  EXPECT_EQ(a.mix_lambda, b.mix_lambda);
  EXPECT_NE(a.mix_lambda, c.mix_lambda);
  EXPECT_NEAR(a.mix_lambda + a.mix_other, 1.0f, 1e-6f);

  AugmentConfig cutmix;
  cutmix.cutmix = 1.0;
  for (int64_t batch = 0; batch < 200; ++batch) {
    BatchArgs m;
    draw_mix(cutmix, 5, batch, 4, 32, 24, m);
    ASSERT_EQ(m.mix_mode, kCutMix);
    ASSERT_LE(0, m.box_y0);
    ASSERT_LE(m.box_y0, m.box_y1);
    ASSERT_LE(m.box_y1, 32);
    ASSERT_LE(0, m.box_x0);
    ASSERT_LE(m.box_x0, m.box_x1);
    ASSERT_LE(m.box_x1, 24);
    const double area = double(m.box_y1 - m.box_y0) * double(m.box_x1 - m.box_x0);
    EXPECT_FLOAT_EQ(m.mix_lambda, static_cast<float>(1.0 - area / (32.0 * 24.0)));
  }
  AugmentConfig both = cutmix;
  both.mixup = 0.2;
  std::set<int32_t> modes;
  int cutmixes = 0;
  for (int64_t batch = 0; batch < 400; ++batch) {
    BatchArgs m;
    draw_mix(both, 9, batch, 4, 32, 32, m);
    modes.insert(m.mix_mode);
    cutmixes += m.mix_mode == kCutMix;
  }
  EXPECT_EQ(modes, (std::set<int32_t>{kMixUp, kCutMix}));
  EXPECT_NEAR(cutmixes, 200, 50);
  BatchArgs none;
  draw_mix(AugmentConfig{}, 9, 0, 4, 32, 32, none);
  EXPECT_EQ(none.mix_mode, kNoMix);
}

// Four 2x2 single-channel images, pixel value = 10 * image + pixel.
struct Tiny {
  std::vector<uint8_t> pixels;
  std::vector<int32_t> labels{7, 1, 4, 2}, order{0, 1, 2, 3};
  std::vector<float> lut;  // byte -> byte
  Tiny() {
    for (int i = 0; i < 4; ++i)
      for (int p = 0; p < 4; ++p) pixels.push_back(static_cast<uint8_t>(10 * i + p));
    for (int v = 0; v < 256; ++v) lut.push_back(static_cast<float>(v));
  }
  std::pair<std::vector<float>, std::vector<int32_t>> batch(const BatchArgs& args) {
    Context ctx(Device::CPU);
    std::vector<float> x(16);
    std::vector<int32_t> out(args.mix_mode == kNoMix ? 4 : 8, -1);
    ops::assemble_batch(ctx, Tensor(pixels.data(), Shape{4, 1, 2, 2}),
                        Tensor(labels.data(), Shape{4}), Tensor(order.data(), Shape{4}), &args,
                        BatchAugment{}, Tensor(lut.data(), Shape{1, 256}),
                        Tensor(x.data(), Shape{4, 1, 2, 2}),
                        Tensor(out.data(), Shape{static_cast<int64_t>(out.size())}));
    return {x, out};
  }
};

// The mixing of Tiny's batch of 4, with lambda 0.75.
BatchArgs mixing_of_four(MixMode mode) {
  BatchArgs a;
  a.count = 4;
  a.mix_mode = mode;
  a.mix_lambda = 0.75f;
  a.mix_other = mode == kMixUp ? 0.25f : 0.0f;
  return a;
}

TEST(Mixing, MixUpBlendsEachImageWithTheOneBefore) {
  Tiny t;
  const BatchArgs a = mixing_of_four(kMixUp);
  const auto [x, labels] = t.batch(a);
  for (int i = 0; i < 4; ++i)
    for (int p = 0; p < 4; ++p) {
      const int j = (i + 3) % 4;  // torch.roll(batch, 1, 0)
      EXPECT_FLOAT_EQ(x[i * 4 + p], 0.75f * static_cast<float>(10 * i + p) +
                                        0.25f * static_cast<float>(10 * j + p));
    }
  EXPECT_EQ(labels, (std::vector<int32_t>{7, 1, 4, 2, 2, 7, 1, 4}));
}

TEST(Mixing, CutMixPastesTheBoxFromTheImageBefore) {
  Tiny t;
  BatchArgs a = mixing_of_four(kCutMix);
  a.box_y0 = 0, a.box_y1 = 1, a.box_x0 = 1, a.box_x1 = 2;  // pixel (0, 1)
  const auto [x, labels] = t.batch(a);
  for (int i = 0; i < 4; ++i)
    for (int p = 0; p < 4; ++p)
      EXPECT_EQ(x[i * 4 + p], p == 1 ? 10 * ((i + 3) % 4) + p : 10 * i + p) << i << " " << p;
  EXPECT_EQ(labels[4], 2);
}

TEST(Mixing, TheMixedLossIsTheWeightedSumOfTheTwoLosses) {
  Rng rng(4);
  const int64_t n = 5, k = 6;
  const HostTensor logits = random_tensor(rng, Shape{n, k}, -3, 3);
  std::vector<int32_t> labels{0, 5, 2, 2, 3, 1, 1, 4, 0, 3};  // (2, N)
  const float lambda = 0.35f;
  Context ctx(Device::CPU);
  for (const float smoothing : {0.0f, 0.1f}) {
    auto run = [&](const int32_t* l, int64_t count, const float* lam) {
      HostTensor g(Shape{n, k});
      float loss = 0;
      int32_t correct = 0;
      const Tensor gt = g.view();
      if (lam)
        ops::mixed_softmax_cross_entropy(
            ctx, logits.view(), Tensor(const_cast<int32_t*>(l), Shape{count}), lam, smoothing,
            nullptr, &gt, Tensor(&loss, Shape{1}), Tensor(&correct, Shape{1}));
      else
        ops::softmax_cross_entropy(ctx, logits.view(), Tensor(const_cast<int32_t*>(l), Shape{n}),
                                   smoothing, nullptr, &gt, Tensor(&loss, Shape{1}),
                                   Tensor(&correct, Shape{1}));
      return std::make_tuple(loss, g, correct);
    };
    const auto [mixed_loss, mixed_grad, mixed_correct] = run(labels.data(), 2 * n, &lambda);
    const auto [loss_a, grad_a, correct_a] = run(labels.data(), n, nullptr);
    const auto [loss_b, grad_b, correct_b] = run(labels.data() + n, n, nullptr);
    EXPECT_NEAR(mixed_loss, lambda * loss_a + (1 - lambda) * loss_b, 1e-6);
    for (int64_t e = 0; e < n * k; ++e)
      EXPECT_NEAR(mixed_grad[e], lambda * grad_a[e] + (1 - lambda) * grad_b[e], 1e-7);
    EXPECT_EQ(mixed_correct, correct_b) << "lambda < 0.5 counts the second label";
  }
  float loss = 0;
  int32_t correct = 0;
  EXPECT_THROW(ops::mixed_softmax_cross_entropy(
                   ctx, logits.view(), Tensor(labels.data(), Shape{n}), &lambda, 0.0f, nullptr,
                   nullptr, Tensor(&loss, Shape{1}), Tensor(&correct, Shape{1})),
               cnne::Error);
}

TEST(MixingRuns, TrainsWithMixUpAndCutMixAndTheFusedStepRefusesThem) {
  TempDir data, out;
  make_small_cifar(data, 8, 4);
  nlohmann::json config = parse_json_text(Config::embedded_default(), "simplecnn.json");
  config["data"]["augment"] = {{"mixup", 0.2}, {"cutmix", 1.0}};
  write_text(out.file("c.json"), config.dump());
  const std::string base = "train " + out.file("c.json") + " --device cpu --data " +
                           data.path().string() + " --epochs 1 --log-every 2 --out " +
                           out.file("w.safetensors");
  const RunResult r = run_cli(base);
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_NE(r.out.find("Augmentation (training images): per batch RandomChoice([CutMix(alpha=1), "
                       "MixUp(alpha=0.2)])"),
            std::string::npos)
      << r.out;
  EXPECT_EQ(loss_lines(r.out), loss_lines(run_cli(base).out));  // the same draws again
  const RunResult fused = run_cli(base + " --fused-step");
  EXPECT_NE((fused.out + fused.err).find("it does not mix batches"), std::string::npos)
      << fused.out << fused.err;
}

}  // namespace
}  // namespace cnne::test
