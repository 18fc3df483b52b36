// data.augment.policy (Note [augmentation policies] in engine/augment_policy.h):
// every op against torchvision 0.14's _apply_op on uint8 tensors
// (tests/fixtures/augment_policy.safetensors, tools/make_policy_fixtures.py),
// the magnitude tables, the draws of the three policies, and the staging path
// of DeviceDataset.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <cstring>
#include <map>
#include <set>
#include <string>
#include <vector>

#include "engine/augment_policy_table.h"
#include "engine/batch_assembly.h"
#include "engine/config.h"
#include "engine/device_dataset.h"
#include "engine/error.h"
#include "engine/normalization.h"
#include "engine/ops.h"
#include "engine/rng.h"
#include "engine/safetensors.h"
#include "tests/test_util.h"

namespace cnne {
namespace {

using test::fixtures_dir;

const Safetensors& fixture() {
  static const Safetensors fx = load_safetensors(fixtures_dir() + "/augment_policy.safetensors");
  return fx;
}

const SafetensorsTensor& tensor(const std::string& name) {
  const SafetensorsTensor* t = fixture().find(name);
  if (t == nullptr) throw Error("augment_policy.safetensors has no " + name);
  return *t;
}

template <class T>
std::vector<T> values_of(const SafetensorsTensor& t) {
  std::vector<T> out(t.bytes.size() / sizeof(T));
  std::memcpy(out.data(), t.bytes.data(), t.bytes.size());
  return out;
}

// The first byte of `got` that differs from `want`, as "image i channel c (y, x): got vs want".
std::string first_difference(const std::vector<uint8_t>& got, const uint8_t* want, int c, int h,
                             int w) {
  for (size_t p = 0; p < got.size(); ++p)
    if (got[p] != want[p]) {
      const int64_t image = static_cast<int64_t>(p) / (c * h * w);
      const int rest = static_cast<int>(p % static_cast<size_t>(c * h * w));
      return "image " + std::to_string(image) + " channel " + std::to_string(rest / (h * w)) +
             " (" + std::to_string(rest % (h * w) / w) + ", " + std::to_string(rest % w) +
             "): cnnengine " + std::to_string(got[p]) + ", torchvision " + std::to_string(want[p]);
    }
  return "";
}

TEST(AugmentPolicy, EveryOpMatchesTorchvisionByteForByte) {
  const std::vector<int32_t> ops = values_of<int32_t>(tensor("case_op"));
  const std::vector<float> magnitudes = values_of<float>(tensor("case_magnitude"));
  ASSERT_EQ(ops.size(), magnitudes.size());
  ASSERT_GE(ops.size(), 60u);
  std::set<int> seen;
  for (size_t k = 0; k < ops.size(); ++k)
    for (const char* set : {"rgb", "gray"}) {
      const SafetensorsTensor& in = tensor(set);
      const SafetensorsTensor& want = tensor("case" + std::to_string(k) + "." + set);
      const int n = static_cast<int>(in.shape[0]), c = static_cast<int>(in.shape[1]);
      const int h = static_cast<int>(in.shape[2]), w = static_cast<int>(in.shape[3]);
      ASSERT_EQ(want.shape, in.shape);
      const PolicyOpParams o = make_policy_op(ops[k], magnitudes[k], h, w);
      std::vector<uint8_t> got(in.bytes.size());
      const size_t image_bytes = static_cast<size_t>(c * h * w);
      for (int i = 0; i < n; ++i)
        apply_policy_op(o, in.bytes.data() + i * image_bytes, c, h, w,
                        got.data() + i * image_bytes);
      EXPECT_EQ(first_difference(got, want.bytes.data(), c, h, w), "")
          << policy_op_name(ops[k]) << "(" << magnitudes[k] << ") on " << set;
      seen.insert(ops[k]);
    }
  EXPECT_EQ(seen.size(), static_cast<size_t>(kPolicyOpCount));  // every op is in the fixture
}

// torch.linspace's rounding depends on the machine's vector width; within 2 ulp.
void expect_tables(int32_t kind, int bins, int size, const std::string& prefix) {
  int checked = 0;
  for (int op = 0; op < kPolicyOpCount; ++op) {
    const SafetensorsTensor* t = fixture().find(prefix + "." + policy_op_name(op));
    if (t == nullptr) {
      EXPECT_FALSE(policy_op_has_magnitude(op) && op != kPolicyInvert)
          << prefix << " lacks " << policy_op_name(op);
      continue;
    }
    const std::vector<float> want = values_of<float>(*t);
    const std::vector<float> got = policy_magnitudes(kind, op, bins, size, size);
    ASSERT_EQ(got.size(), want.size()) << prefix << "." << policy_op_name(op);
    for (size_t i = 0; i < got.size(); ++i)
      EXPECT_NEAR(got[i], want[i], 2.5e-7 * std::max(1.0f, std::fabs(want[i])))
          << prefix << "." << policy_op_name(op) << "[" << i << "]";
    ++checked;
  }
  EXPECT_EQ(checked, 11) << prefix;  // ShearX .. Solarize
}

TEST(AugmentPolicy, MagnitudeTablesAreTorchvisions) {
  expect_tables(kTrivialAugmentWide, 31, 32, "trivial");
  for (int bins : {31, 10, 7})
    for (int size : {32, 28}) {
      const std::string prefix = "rand" + std::to_string(bins) + "_" + std::to_string(size);
      expect_tables(kRandAugment, bins, size, prefix);
      expect_tables(kAutoAugment, bins, size, prefix);  // AutoAugment's space is RandAugment's
    }
}

// The ops drawn for `images` positions, as (op -> count), and the ops per image.
struct DrawCounts {
  std::map<int, int> ops;
  std::map<int, int> per_image;
  std::map<int, std::set<int>> bins;  // op -> the bins drawn (from the table entry)
  int negative = 0, signed_ops = 0;
};

DrawCounts count_draws(const PolicyConfig& config, int images) {
  const PolicyTable table = make_policy_table(config, 32, 32);
  PolicySource s = table.source;
  s.ops = table.ops.data();
  s.steps = table.steps.empty() ? nullptr : table.steps.data();
  DrawCounts counts;
  for (int p = 0; p < images; ++p) {
    const PolicyDraw d = draw_policy(s, 0x1234abcdULL, p);
    ++counts.per_image[d.count];
    for (int k = 0; k < d.count; ++k) {
      const auto index = static_cast<int>(d.ops[k] - s.ops);
      const int op = index / 2 / s.bins, bin = index / 2 % s.bins;
      EXPECT_EQ(d.ops[k]->op, op);
      ++counts.ops[op];
      counts.bins[op].insert(bin);
      if (policy_op_signed(op)) {
        ++counts.signed_ops;
        counts.negative += index % 2;
      }
    }
  }
  return counts;
}

TEST(AugmentPolicy, TrivialAugmentWideDrawsOneOpUniformlyWithItsBins) {
  PolicyConfig config;
  config.kind = kTrivialAugmentWide;
  const int images = 28000;
  const DrawCounts c = count_draws(config, images);
  EXPECT_EQ(c.per_image.at(1), images);
  EXPECT_EQ(c.ops.size(), static_cast<size_t>(kPolicyWideOps));  // never Invert
  for (const auto& [op, count] : c.ops) {
    EXPECT_NEAR(count, images / kPolicyWideOps, 200) << policy_op_name(op);
    EXPECT_EQ(c.bins.at(op).size(), policy_op_has_magnitude(op) ? 31u : 1u) << policy_op_name(op);
  }
  EXPECT_NEAR(c.negative, c.signed_ops / 2, 200);
}

TEST(AugmentPolicy, RandAugmentDrawsNumOpsAtItsMagnitude) {
  PolicyConfig config;
  config.kind = kRandAugment;
  config.num_ops = 3;
  config.magnitude = 9;
  const DrawCounts c = count_draws(config, 5000);
  EXPECT_EQ(c.per_image.at(3), 5000);
  EXPECT_EQ(c.ops.size(), static_cast<size_t>(kPolicyWideOps));
  for (const auto& [op, bins] : c.bins)
    EXPECT_EQ(*bins.begin(), policy_op_has_magnitude(op) ? 9 : 0) << policy_op_name(op);
  config.num_ops = 0;
  EXPECT_EQ(count_draws(config, 10).per_image.at(0), 10);
}

TEST(AugmentPolicy, AutoAugmentAppliesItsSubPoliciesWithTheirProbabilities) {
  PolicyConfig config;
  config.kind = kAutoAugment;
  const int images = 20000;
  const DrawCounts c = count_draws(config, images);
  // CIFAR-10's policy: the expected number of ops is the sum of the steps'
  // probabilities over 25 sub-policies
  const PolicyTable table = make_policy_table(config, 32, 32);
  double expected = 0;
  std::map<int, double> expected_per_op;
  for (const PolicyStep& step : table.steps) {
    expected += step.probability / kAutoAugmentSubPolicies;
    expected_per_op[step.op] += step.probability / kAutoAugmentSubPolicies;
  }
  int drawn = 0;
  for (const auto& [op, count] : c.ops) {
    drawn += count;
    ASSERT_TRUE(expected_per_op.count(op)) << policy_op_name(op) << " is not in the policy";
    EXPECT_NEAR(count, expected_per_op[op] * images, 0.02 * images) << policy_op_name(op);
  }
  EXPECT_NEAR(drawn, expected * images, 0.02 * images);
  EXPECT_GT(c.ops.at(kPolicyInvert), 0);  // cifar10's Invert steps (probability 0.1)
  config.auto_policy = "svhn";
  EXPECT_GT(count_draws(config, 1000).ops.at(kPolicyShearX), 0);
  config.auto_policy = "mnist";
  EXPECT_THROW(make_policy_table(config, 32, 32), ConfigError);
}

TEST(AugmentPolicy, DescribesItselfAsTorchvisionWould) {
  PolicyConfig p;
  EXPECT_EQ(p.describe(), "none");
  p.kind = kTrivialAugmentWide;
  EXPECT_EQ(p.describe(), "TrivialAugmentWide(num_magnitude_bins=31)");
  p.kind = kRandAugment;
  EXPECT_EQ(p.describe(), "RandAugment(num_ops=2, magnitude=9, num_magnitude_bins=31)");
  p.kind = kAutoAugment;
  EXPECT_EQ(p.describe(), "AutoAugment(cifar10)");
  for (int32_t kind : {kTrivialAugmentWide, kRandAugment, kAutoAugment})
    EXPECT_EQ(policy_kind_from_name(policy_kind_name(kind)), kind);
  EXPECT_EQ(policy_kind_from_name("autoaugment"), kNoPolicy);
}

// ---- the staging path: ops::augment_policy, then assemble_batch from the staged bytes

// A policy whose every op is `op` at the given params (RandAugment, num_ops ops).
struct FixedPolicy {
  std::vector<PolicyOpParams> ops;
  PolicySource source;
  FixedPolicy(const PolicyOpParams& o, int num_ops) {
    source.kind = kRandAugment;
    source.num_ops = num_ops;
    source.bins = 1;
    ops.assign(kPolicyOpCount * 2, o);
    source.ops = ops.data();
  }
};

TEST(AugmentPolicy, IdentityPolicyThroughTheStagingBufferIsTheBatchWithoutIt) {
  const int64_t count = 7, c = 3, h = 6, w = 5, n = 4;
  Rng rng(8);
  std::vector<uint8_t> pixels(static_cast<size_t>(count * c * h * w));
  for (uint8_t& p : pixels) p = static_cast<uint8_t>(rng.uniform(0.0f, 255.99f));
  std::vector<int32_t> labels(count), order(count);
  for (int64_t i = 0; i < count; ++i) {
    labels[i] = static_cast<int32_t>(i % 10);
    order[i] = static_cast<int32_t>((i * 3 + 2) % count);
  }
  std::vector<float> lut(static_cast<size_t>(c * 256));
  for (float& v : lut) v = rng.uniform(-1.0f, 1.0f);
  const FixedPolicy identity(make_policy_op(kPolicyIdentity, 0.0, h, w), 2);
  BatchArgs plain{2, 0x51ULL}, cutmix = plain;
  cutmix.count = static_cast<int32_t>(n);
  cutmix.mix_mode = kCutMix;
  cutmix.box_y0 = 1, cutmix.box_y1 = 3, cutmix.box_x0 = 0, cutmix.box_x1 = 4;
  cutmix.mix_lambda = 0.6f;
  Context ctx(Device::CPU);
  const Tensor pix(pixels.data(), Shape{count, c, h, w}), lab(labels.data(), Shape{count}),
      ord(order.data(), Shape{count}), table(lut.data(), Shape{c, 256});
  for (const BatchArgs& args : {plain, cutmix})
    for (const BatchAugment& aug :
         {BatchAugment{2, 1}, BatchAugment{1, 2, 3}, BatchAugment{0, 0}}) {
      const int64_t label_count = args.mix_mode == kNoMix ? n : 2 * n;
      std::vector<float> want(static_cast<size_t>(n * c * h * w)), got(want.size(), NAN);
      std::vector<int32_t> want_labels(label_count), got_labels(label_count, -1);
      ops::assemble_batch(ctx, pix, lab, ord, &args, aug, table,
                          Tensor(want.data(), Shape{n, c, h, w}),
                          Tensor(want_labels.data(), Shape{label_count}));
      std::vector<uint8_t> staged(static_cast<size_t>(n * c * h * w));
      ops::augment_policy(ctx, pix, ord, &args, aug, identity.source,
                          Tensor(staged.data(), Shape{n, c, h, w}));
      BatchAugment rest;
      rest.cutout = aug.cutout;
      rest.staged = 1;
      ops::assemble_batch(ctx, Tensor(staged.data(), Shape{n, c, h, w}), lab, ord, &args, rest,
                          table, Tensor(got.data(), Shape{n, c, h, w}),
                          Tensor(got_labels.data(), Shape{label_count}));
      const std::string at = "crop " + std::to_string(aug.crop_padding) + " flip " +
                             std::to_string(aug.flip) + " cutout " + std::to_string(aug.cutout) +
                             " mix " + std::to_string(args.mix_mode);
      EXPECT_EQ(got, want) << at;
      EXPECT_EQ(got_labels, want_labels) << at;
    }
}

TEST(AugmentPolicy, OpsChainInOrderOnTheCroppedImage) {
  // Invert twice is the identity; Solarize(0) then Posterize(4) is Posterize(4) of the inverse.
  const int64_t c = 3, h = 4, w = 4;
  std::vector<uint8_t> pixels(static_cast<size_t>(c * h * w));
  for (size_t i = 0; i < pixels.size(); ++i) pixels[i] = static_cast<uint8_t>(i * 5 + 3);
  std::vector<int32_t> order{0};
  Context ctx(Device::CPU);
  const BatchArgs args{0, 3};
  const auto run = [&](const PolicySource& policy) {
    std::vector<uint8_t> out(pixels.size());
    ops::augment_policy(ctx, Tensor(pixels.data(), Shape{1, c, h, w}),
                        Tensor(order.data(), Shape{1}), &args, BatchAugment{}, policy,
                        Tensor(out.data(), Shape{1, c, h, w}));
    return out;
  };
  EXPECT_EQ(run(FixedPolicy(make_policy_op(kPolicyInvert, 0, h, w), 2).source), pixels);
  const std::vector<uint8_t> once =
      run(FixedPolicy(make_policy_op(kPolicyInvert, 0, h, w), 1).source);
  for (size_t i = 0; i < pixels.size(); ++i) EXPECT_EQ(once[i], 255 - pixels[i]);
  // A chain of two different ops: a table with Solarize(0) for the first draw
  // is not expressible with FixedPolicy, so compose by hand through apply_policy_op.
  std::vector<uint8_t> a(pixels.size()), b(pixels.size());
  apply_policy_op(make_policy_op(kPolicySolarize, 0.0, h, w), pixels.data(), 3, 4, 4, a.data());
  apply_policy_op(make_policy_op(kPolicyPosterize, 4.0, h, w), a.data(), 3, 4, 4, b.data());
  for (size_t i = 0; i < pixels.size(); ++i) EXPECT_EQ(b[i], (255 - pixels[i]) & 0xf0);
}

const Normalization kNorm({0.5, 0.5, 0.5}, {0.25, 0.25, 0.25});

ImageDataset small_images(int64_t count, int64_t c, int64_t h, int64_t w) {
  ImageDataset data;
  data.count = count;
  data.channels = c;
  data.height = h;
  data.width = w;
  Rng rng(21);
  for (int64_t i = 0; i < count * c * h * w; ++i)
    data.pixels.push_back(static_cast<uint8_t>(rng.uniform(0.0f, 255.99f)));
  for (int64_t i = 0; i < count; ++i) data.labels.push_back(static_cast<int32_t>(i % 10));
  return data;
}

TEST(AugmentPolicy, DeviceDatasetAppliesTheDrawnOpAfterTheCropAndFlip) {
  const int64_t n = 40;
  const ImageDataset data = small_images(n, 3, 12, 10);
  AugmentConfig crop{2, true};
  AugmentConfig trivial = crop;
  trivial.policy.kind = kTrivialAugmentWide;
  const std::vector<float> plain = test::augmented_batch(data, kNorm, crop, 5, 1, 0, n);
  const std::vector<float> with = test::augmented_batch(data, kNorm, trivial, 5, 1, 0, n);
  EXPECT_EQ(test::augmented_batch(data, kNorm, trivial, 5, 1, 0, n), with)
      << "the draws are stateless";
  EXPECT_NE(test::augmented_batch(data, kNorm, trivial, 5, 2, 0, n), with)
      << "each epoch draws anew";
  const PolicyTable table = make_policy_table(trivial.policy, 12, 10);
  PolicySource s = table.source;
  s.ops = table.ops.data();
  const uint64_t key = augment_key(5, 1);
  const int64_t image = 3 * 12 * 10;
  int identities = 0, changed = 0;
  for (int64_t i = 0; i < n; ++i) {
    const PolicyDraw d = draw_policy(s, key, i);
    ASSERT_EQ(d.count, 1);
    const bool same = std::equal(plain.begin() + i * image, plain.begin() + (i + 1) * image,
                                 with.begin() + i * image);
    if (d.ops[0]->op == kPolicyIdentity) {
      EXPECT_TRUE(same) << "image " << i << " drew Identity";
      ++identities;
    } else {
      changed += same ? 0 : 1;
    }
  }
  EXPECT_GT(changed, (n - identities) / 2) << "most ops change most images";
}

// The trainer sets the augmentation again after SWA's statistics pass, with a
// CUDA graph captured that reads the tables and the staging buffer: the same
// policy keeps both where they are.
TEST(AugmentPolicy, SettingTheSamePolicyAgainKeepsItsTablesAndStaging) {
  const ImageDataset data = small_images(16, 3, 12, 10);
  AugmentConfig rand{2, true};
  rand.policy.kind = kRandAugment;
  Context ctx(Device::CPU);
  DeviceDataset d(ctx, data, kNorm);
  Rng order(1);
  d.start_epoch(order, 0, true);
  d.set_augment(rand, 7, 8);
  const PolicyOpParams* ops = d.policy_source().ops;
  const void* staging = d.staging();
  ASSERT_NE(ops, nullptr);
  ASSERT_NE(staging, nullptr);
  d.set_augment(AugmentConfig{}, 7, 8);  // as the statistics pass does: none
  d.set_augment(rand, 7, 8);
  EXPECT_EQ(d.policy_source().ops, ops);
  EXPECT_EQ(d.staging(), staging);
  d.set_augment(rand, 7, 4);  // a smaller batch fits the same buffer
  EXPECT_EQ(d.staging(), staging);
}

TEST(AugmentPolicy, DeviceDatasetRefusesImagesItCannotTake) {
  AugmentConfig trivial;
  trivial.policy.kind = kTrivialAugmentWide;
  Context ctx(Device::CPU);
  const ImageDataset two = small_images(2, 2, 8, 8);
  DeviceDataset a(ctx, two, Normalization({0.5, 0.5}, {0.5, 0.5}));
  EXPECT_THROW(a.set_augment(trivial, 1, 2), DataError);
  const ImageDataset big = small_images(1, 3, 80, 64);
  DeviceDataset b(ctx, big, Normalization({0.5, 0.5, 0.5}, {0.5, 0.5, 0.5}));
  try {
    b.set_augment(trivial, 1, 1);
    FAIL() << "3x80x64 images taken";
  } catch (const DataError& e) {
    EXPECT_NE(std::string(e.what()).find("data.augment.policy"), std::string::npos) << e.what();
    EXPECT_NE(std::string(e.what()).find("3x80x64"), std::string::npos) << e.what();
  }
}

// ---- the config

const char* const kNet = R"("network": {"input": [3, 32, 32], "layers": [{"type": "flatten"},
    {"type": "linear", "in_features": 3072, "out_features": 10}]},
    "training": {"optimizer": {"type": "sgd", "lr": 0.1}})";

Config config_with(const std::string& augment) {
  return Config::from_json(
      parse_json_text("{" + std::string(kNet) + R"(, "data": {"augment": )" + augment + "}}",
                      "p.json"),
      "p.json");
}

std::string config_error(const std::string& augment) {
  try {
    config_with(augment);
  } catch (const ConfigError& e) {
    return e.what();
  }
  return "";
}

TEST(AugmentPolicy, ConfigReadsEveryFormAndRoundTrips) {
  const Config t = config_with(R"({"crop_padding": 4, "horizontal_flip": true,
                                   "policy": "trivial_augment_wide"})");
  EXPECT_EQ(t.data.augment.policy.kind, kTrivialAugmentWide);
  EXPECT_EQ(
      t.data.augment.describe(),
      "RandomHorizontalFlip(), RandomCrop(padding=4), TrivialAugmentWide(num_magnitude_bins=31)");
  const Config r = config_with(
      R"({"policy": {"type": "rand_augment", "num_ops": 3, "magnitude": 5, "num_magnitude_bins": 11}})");
  EXPECT_EQ(r.data.augment.policy.kind, kRandAugment);
  EXPECT_EQ(r.data.augment.policy.num_ops, 3);
  EXPECT_EQ(r.data.augment.policy.magnitude, 5);
  EXPECT_EQ(r.data.augment.policy.num_magnitude_bins, 11);
  const Config a = config_with(R"({"policy": {"type": "auto_augment", "policy": "svhn"}})");
  EXPECT_EQ(a.data.augment.policy.describe(), "AutoAugment(svhn)");
  for (const Config* c : {&t, &r, &a}) {
    const Config back = Config::from_json(c->to_json(), "back.json");
    EXPECT_EQ(back.data.augment.describe(), c->data.augment.describe());
  }
}

TEST(AugmentPolicy, ConfigErrorsNameTheKey) {
  EXPECT_NE(config_error(R"({"policy": "autoaugment"})").find("data.augment.policy"),
            std::string::npos);
  EXPECT_NE(config_error(R"({"policy": "autoaugment"})").find("trivial_augment_wide"),
            std::string::npos);
  EXPECT_NE(config_error(R"({"policy": 3})").find("data.augment.policy"), std::string::npos);
  EXPECT_NE(
      config_error(R"({"policy": {"type": "rand_augment", "magnitude": 31}})").find("magnitude"),
      std::string::npos);
  EXPECT_NE(config_error(R"({"policy": {"type": "rand_augment", "num_ops": 9}})").find("num_ops"),
            std::string::npos);
  EXPECT_NE(
      config_error(R"({"policy": {"type": "auto_augment", "policy": "mnist"}})").find("cifar10"),
      std::string::npos);
  // a key of another kind is unknown
  EXPECT_NE(
      config_error(R"({"policy": {"type": "trivial_augment_wide", "num_ops": 2}})").find("num_ops"),
      std::string::npos);
  EXPECT_NE(config_error(R"({"policy": {"type": "auto_augment", "num_magnitude_bins": 5}})")
                .find("num_magnitude_bins"),
            std::string::npos);
  EXPECT_NE(config_error(R"({"policy": {"type": "rand_augment", "num_magnitude_bins": 1}})")
                .find("num_magnitude_bins"),
            std::string::npos);
}

}  // namespace
}  // namespace cnne
