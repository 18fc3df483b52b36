// data.augment.random_erasing (Note [random erasing] in engine/batch_assembly.h):
// the rectangle sizes against torchvision's RandomErasing.get_params
// (tests/fixtures/random_erasing.json, made by tools/make_erasing_fixtures.py),
// the position and the probability, the batch it makes, portable_exp, and the
// config. The GPU kernel against the CPU: tests/emulated_engine_kernels_test.cpp
// and tests/gpu_test.cpp; the fused step: tests/fused_step_test.cpp.
#include <gtest/gtest.h>

#include <cmath>
#include <cstring>
#include <fstream>
#include <map>

#include "engine/batch_assembly.h"
#include "engine/config.h"
#include "engine/erasing_config.h"
#include "engine/error.h"
#include "engine/normalization.h"
#include "engine/portable_math.h"
#include "tests/test_util.h"

namespace cnne::test {
namespace {

TEST(PortableExp, WithinOneUlpOfTheLibrarysExp) {
  int64_t worst = 0;
  double at = 0;
  for (double x = -20; x <= 20; x += 0.000977) {
    const double got = portable_exp(x), want = std::exp(x);
    int64_t a, b;
    std::memcpy(&a, &got, 8);
    std::memcpy(&b, &want, 8);
    if (std::llabs(a - b) > worst) {
      worst = std::llabs(a - b);
      at = x;
    }
  }
  EXPECT_LE(worst, 1) << "ulps at x = " << at;
  EXPECT_EQ(portable_exp(0.0), 1.0);
  EXPECT_NEAR(portable_exp(std::log(3.3)), 3.3, 1e-15);
}

BatchAugment erasing(double p, double scale_lo, double scale_hi, double ratio_lo, double ratio_hi) {
  ErasingConfig e;
  e.p = p;
  e.scale_lo = scale_lo, e.scale_hi = scale_hi;
  e.ratio_lo = ratio_lo, e.ratio_hi = ratio_hi;
  BatchAugment aug;
  set_erasing(aug, e, 3);
  return aug;
}

double total_variation(const std::map<std::string, double>& a,
                       const std::map<std::string, double>& b) {
  std::map<std::string, double> diff = a;
  for (const auto& [k, v] : b) diff[k] -= v;
  double sum = 0;
  for (const auto& [k, v] : diff) sum += std::fabs(v);
  return sum / 2;
}

// The distribution of (h, w) over 200,000 of our draws against torchvision's
// 100,000 (p = 1): the marginals and the joint within sampling noise (about
// 0.008 and 0.03 here; rounding down instead of to nearest, or the height and
// width swapped, move them by 0.3 and more).
TEST(RandomErasing, RectangleSizesFollowTorchvisionsGetParams) {
  std::ifstream in(fixtures_dir() + "/random_erasing.json");
  ASSERT_TRUE(in) << "tests/fixtures/random_erasing.json";
  const nlohmann::json fx = nlohmann::json::parse(in);
  ASSERT_EQ(fx["cases"].size(), 2u);
  for (const auto& [name, c] : fx["cases"].items()) {
    const int h = c["size"][0], w = c["size"][1];
    const BatchAugment aug =
        erasing(1.0, c["scale"][0], c["scale"][1], c["ratio"][0], c["ratio"][1]);
    const double theirs_n = c["draws"].get<double>();
    std::map<std::string, double> theirs, theirs_h, theirs_w;
    for (const auto& [key, count] : c["counts"].items()) {
      const double f = count.get<double>() / theirs_n;
      theirs[key] += f;
      const auto comma = key.find(',');
      theirs_h[comma == std::string::npos ? key : key.substr(0, comma)] += f;
      theirs_w[comma == std::string::npos ? key : key.substr(comma + 1)] += f;
    }
    constexpr int kDraws = 200000;
    std::map<std::string, double> ours, ours_h, ours_w;
    for (int p = 0; p < kDraws; ++p) {
      const ImageDraw d = draw_for(aug, 0x5eed, p, h, w);
      const int eh = d.cut_y1 - d.cut_y0, ew = d.cut_x1 - d.cut_x0;
      ASSERT_TRUE(d.cut_y0 >= 0 && d.cut_y1 <= h && d.cut_x0 >= 0 && d.cut_x1 <= w) << name << p;
      const bool none = eh == 0 && ew == 0 && d.cut_y0 == 0;
      const std::string hs = none ? "none" : std::to_string(eh);
      const std::string ws = none ? "none" : std::to_string(ew);
      ours[none ? "none" : hs + "," + ws] += 1.0 / kDraws;
      ours_h[hs] += 1.0 / kDraws;
      ours_w[ws] += 1.0 / kDraws;
    }
    EXPECT_LT(total_variation(ours_h, theirs_h), 0.02) << name << ": heights";
    EXPECT_LT(total_variation(ours_w, theirs_w), 0.02) << name << ": widths";
    EXPECT_LT(total_variation(ours, theirs), 0.07) << name << ": (height, width)";
    EXPECT_NEAR(ours["none"], theirs["none"], 0.002) << name << ": nothing erased";
  }
}

TEST(RandomErasing, PositionIsUniformAndTheProbabilityIsP) {
  const int h = 32, w = 32;
  const BatchAugment always = erasing(1.0, 0.02, 0.33, 0.3, 3.3);
  std::map<int, std::pair<int, int>> seen;  // height -> (lowest, highest) top row
  double spread = 0;
  constexpr int kDraws = 50000;
  for (int p = 0; p < kDraws; ++p) {
    const ImageDraw d = draw_for(always, 7, p, h, w);
    const int eh = d.cut_y1 - d.cut_y0;
    auto [it, fresh] = seen.try_emplace(eh, d.cut_y0, d.cut_y0);
    it->second.first = std::min(it->second.first, d.cut_y0);
    it->second.second = std::max(it->second.second, d.cut_y0);
    spread += (h - eh) > 0 ? static_cast<double>(d.cut_y0) / (h - eh) : 0.5;
  }
  EXPECT_NEAR(spread / kDraws, 0.5, 0.01);  // randint(0, H - h + 1) / (H - h): mean 1/2
  for (int eh : {4, 8, 12}) {
    ASSERT_TRUE(seen.count(eh)) << eh;
    EXPECT_EQ(seen[eh].first, 0) << eh;
    EXPECT_EQ(seen[eh].second, h - eh) << eh << ": the last row it may start on";
  }
  const BatchAugment half = erasing(0.5, 0.02, 0.33, 0.3, 3.3);
  int erased = 0;
  for (int p = 0; p < 20000; ++p) {
    const ImageDraw d = draw_for(half, 11, p, h, w);
    erased += d.cut_y1 > d.cut_y0;
  }
  EXPECT_NEAR(erased / 20000.0, 0.5, 0.015);
  // Crops and flips draw as without it (their own key).
  BatchAugment crop{4, 1};
  BatchAugment crop_erase = half;
  crop_erase.crop_padding = 4;
  crop_erase.flip = 1;
  for (int p = 0; p < 100; ++p) {
    const ImageDraw a = draw_for(crop, 3, p, h, w), b = draw_for(crop_erase, 3, p, h, w);
    EXPECT_EQ(a.flip, b.flip);
    EXPECT_EQ(a.dy, b.dy);
    EXPECT_EQ(a.dx, b.dx);
  }
}

ImageDataset small_cifar(int64_t count) {
  return random_image_set(count, 3, 32, 32, 21);
}

// The batch with erasing is the batch without it, but for each image's drawn
// rectangle, where every channel holds its value.
TEST(RandomErasing, TheBatchHoldsTheValuesInsideTheRectangleOnly) {
  const ImageDataset data = small_cifar(12);
  const Normalization norm({0.5, 0.5, 0.5}, {0.5, 0.5, 0.5});
  AugmentConfig plain;
  plain.crop_padding = 4;
  plain.horizontal_flip = true;
  AugmentConfig erase = plain;
  erase.erasing.p = 0.75;
  erase.erasing.value = {1.5, -2.0, 0.25};
  const int64_t n = 6;
  for (int64_t b = 0; b < 2; ++b) {
    const std::vector<float> want = augmented_batch(data, norm, plain, 9, 1, b, n);
    const std::vector<float> got = augmented_batch(data, norm, erase, 9, 1, b, n);
    BatchAugment aug;
    set_erasing(aug, erase.erasing, 3);  // as DeviceDataset sets it
    int images_erased = 0;
    for (int64_t i = 0; i < n; ++i) {
      const ImageDraw d = draw_for(aug, augment_key(9, 1), b * n + i, 32, 32);
      images_erased += d.cut_y1 > d.cut_y0;
      for (int64_t ch = 0; ch < 3; ++ch)
        for (int64_t y = 0; y < 32; ++y)
          for (int64_t x = 0; x < 32; ++x) {
            const size_t at = static_cast<size_t>(((i * 3 + ch) * 32 + y) * 32 + x);
            if (cut_out(d, y, x))
              ASSERT_EQ(got[at], static_cast<float>(erase.erasing.value[ch])) << i << ch << y << x;
            else
              ASSERT_EQ(got[at], want[at]) << i << ch << y << x;
          }
    }
    EXPECT_GT(images_erased, 0) << "batch " << b;
  }
}

ErasingConfig parsed(const char* json, int64_t channels = 3) {
  return parse_erasing(nlohmann::json::parse(json), "c.json: data.augment", channels);
}

TEST(RandomErasing, ConfigFormsDefaultsAndRoundTrip) {
  const ErasingConfig p = parsed("0.25");
  EXPECT_EQ(p.p, 0.25);
  EXPECT_EQ(p.scale_lo, 0.02);
  EXPECT_EQ(p.ratio_hi, 3.3);
  EXPECT_EQ(p.value, std::vector<double>{0.0});
  EXPECT_FALSE(parsed("0").enabled());
  const ErasingConfig full =
      parsed(R"({"p": 1, "scale": [0.1, 0.2], "ratio": [0.5, 2], "value": [1, 2, 3]})");
  EXPECT_EQ(full.value_of(2), 3.0);
  EXPECT_EQ(full.describe(),
            "RandomErasing(p=1, scale=(0.1, 0.2), ratio=(0.5, 2), value=(1, 2, 3))");
  EXPECT_EQ(parsed("{}").p, 0.5);  // torchvision's default
  nlohmann::json j = parse_json_text(Config::embedded_default(), "x.json");
  j["data"]["augment"] = {{"horizontal_flip", true},
                          {"random_erasing", {{"p", 0.5}, {"value", -1.0}}}};
  const Config c = Config::from_json(j, "x.json");
  EXPECT_EQ(c.data.augment.erasing.value, std::vector<double>{-1.0});
  EXPECT_NE(c.data.augment.describe().find(
                "RandomErasing(p=0.5, scale=(0.02, 0.33), ratio=(0.3, 3.3), value=-1)"),
            std::string::npos)
      << c.data.augment.describe();
  const Config back = Config::from_json(c.to_json(), "back.json");
  EXPECT_EQ(back.data.augment.erasing.p, 0.5);
  EXPECT_EQ(back.data.augment.erasing.value, std::vector<double>{-1.0});
  EXPECT_EQ(back.to_json(), c.to_json());
}

TEST(RandomErasing, ConfigErrorsNameTheKey) {
  const auto error = [](const char* json, int64_t channels = 3) -> std::string {
    try {
      parsed(json, channels);
    } catch (const ConfigError& e) {
      return e.what();
    }
    return "accepted";
  };
  EXPECT_NE(error("1.5").find("data.augment.random_erasing: must be in [0, 1]"), std::string::npos);
  EXPECT_NE(error(R"({"p": 0})").find("key 'p' must be in (0, 1]"), std::string::npos);
  EXPECT_NE(error(R"({"scale": [0.5, 0.1]})").find("key 'scale' must be [lo, hi] with 0 < lo"),
            std::string::npos);
  EXPECT_NE(error(R"({"scale": [0.1, 1.5]})").find("hi <= 1"), std::string::npos);
  EXPECT_NE(error(R"({"ratio": [0, 2]})").find("key 'ratio' must be [lo, hi]"), std::string::npos);
  EXPECT_NE(error(R"({"value": "random"})").find("'random' is not supported"), std::string::npos);
  EXPECT_NE(error(R"({"value": [1, 2]})").find("one per channel (3)"), std::string::npos);
  EXPECT_NE(error(R"({"probability": 0.5})").find("unknown key 'probability'"), std::string::npos);
  EXPECT_NE(error("[0.5]").find("must be a probability p or an object"), std::string::npos);
  nlohmann::json j = parse_json_text(Config::embedded_default(), "x.json");
  j["data"]["augment"] = {{"cutout", 8}, {"random_erasing", 0.5}};
  try {
    Config::from_json(j, "x.json");
    FAIL() << "cutout and erasing together";
  } catch (const ConfigError& e) {
    EXPECT_NE(std::string(e.what()).find(
                  "x.json: data.augment: key 'random_erasing' and cutout both erase a rectangle"),
              std::string::npos)
        << e.what();
  }
}

}  // namespace
}  // namespace cnne::test
