// The CIFAR-10 reader on small files in the real format, its errors, and the
// batch loader (normalization values, seeded shuffles).
#include <gtest/gtest.h>

#include <cstdlib>
#include <map>
#include <set>

#include "engine/batch_assembly.h"
#include "engine/cifar10.h"
#include "engine/device_dataset.h"
#include "engine/error.h"
#include "engine/normalization.h"
#include "tests/test_util.h"

namespace cnne {
namespace {

// A folder with data_batch_1..5 of `per_file` records each, test_batch and meta.
void make_cifar_folder(const test::TempDir& dir, int64_t per_file) {
  for (int i = 1; i <= 5; ++i)
    test::write_bytes(dir.file("data_batch_" + std::to_string(i) + ".bin"),
                      test::cifar_records(per_file, (i - 1) * per_file));
  test::write_bytes(dir.file("test_batch.bin"), test::cifar_records(per_file, 1000));
  test::write_text(dir.file("batches.meta.txt"),
                   "airplane\nautomobile\nbird\ncat\ndeer\ndog\nfrog\nhorse\nship\ntruck\n\n");
}

TEST(Cifar10Reader, ReadsRecordsInOrder) {
  test::TempDir dir;
  make_cifar_folder(dir, 3);
  const ImageDataset train = cifar10::load_train(dir.path().string(), 0);
  ASSERT_EQ(train.count, 15);
  EXPECT_EQ(train.labels[7], 7);
  EXPECT_EQ(train.labels[12], 2);
  // record i, pixel j = (i * 7 + j) % 256; planar: pixel 1024 is the first green value
  EXPECT_EQ(train.image(4)[0], 28);
  EXPECT_EQ(train.image(4)[1024], (4 * 7 + 1024) % 256);
  EXPECT_EQ(train.class_names.front(), "airplane");
  EXPECT_EQ(train.class_names.size(), 10u);
  const ImageDataset test = cifar10::load_test(dir.path().string(), 0);
  EXPECT_EQ(test.count, 3);
  EXPECT_EQ(test.labels[0], 0);  // record 1000
}

TEST(Cifar10Reader, LimitStopsEarly) {
  test::TempDir dir;
  make_cifar_folder(dir, 4);
  EXPECT_EQ(cifar10::load_train(dir.path().string(), 6).count, 6);
}

TEST(Cifar10Reader, LocateAcceptsTheExtractedTarballFolder) {
  test::TempDir dir;
  std::filesystem::create_directory(dir.path() / "cifar-10-batches-bin");
  test::write_bytes(dir.file("cifar-10-batches-bin/test_batch.bin"), test::cifar_records(1));
  EXPECT_EQ(cifar10::locate(dir.path().string()), (dir.path() / "cifar-10-batches-bin").string());
}

struct BadData {
  const char* what;
  std::function<void(const test::TempDir&)> edit;
  const char* expected;
};
void PrintTo(const BadData& c, std::ostream* os) {
  *os << c.what;
}

class Cifar10Errors : public ::testing::TestWithParam<BadData> {};

TEST_P(Cifar10Errors, NameTheFile) {
  test::TempDir dir;
  make_cifar_folder(dir, 2);
  GetParam().edit(dir);
  try {
    cifar10::load_train(dir.path().string(), 0);
    cifar10::load_test(dir.path().string(), 0);
    FAIL() << "no error for " << GetParam().what;
  } catch (const DataError& e) {
    EXPECT_NE(std::string(e.what()).find(GetParam().expected), std::string::npos) << e.what();
  }
}

INSTANTIATE_TEST_SUITE_P(
    Table, Cifar10Errors,
    ::testing::Values(
        BadData{"truncated",
                [](auto& d) {
                  auto b = test::cifar_records(2);
                  b.resize(b.size() - 100);
                  test::write_bytes(d.file("data_batch_3.bin"), b);
                },
                "data_batch_3.bin: size 6046 bytes is not a whole number of 3073-byte records"},
        BadData{"oversized",
                [](auto& d) {
                  auto b = test::cifar_records(2);
                  b.push_back(0);
                  test::write_bytes(d.file("test_batch.bin"), b);
                },
                "test_batch.bin: size 6147 bytes"},
        BadData{"empty", [](auto& d) { test::write_bytes(d.file("data_batch_1.bin"), {}); },
                "data_batch_1.bin: size 0 bytes"},
        BadData{"missing", [](auto& d) { std::filesystem::remove(d.file("data_batch_4.bin")); },
                "data_batch_4.bin: missing CIFAR-10 file"},
        BadData{"label out of range",
                [](auto& d) {
                  auto b = test::cifar_records(2);
                  b[3073] = 12;
                  test::write_bytes(d.file("data_batch_2.bin"), b);
                },
                "data_batch_2.bin: record 1 has label 12, expected 0..9"},
        BadData{"meta with 3 names",
                [](auto& d) { test::write_text(d.file("batches.meta.txt"), "a\nb\nc\n"); },
                "batches.meta.txt: expected 10 class names, one per line, found 3"}));

TEST(Cifar10Locate, MissingFolderSaysHowToGetTheData) {
  try {
    cifar10::locate("/nonexistent/cifar");
    FAIL();
  } catch (const DataError& e) {
    const std::string m = e.what();
    EXPECT_NE(m.find("'/nonexistent/cifar' does not exist"), std::string::npos) << m;
    EXPECT_NE(m.find("cifar-10-binary.tar.gz"), std::string::npos) << m;
  }
  test::TempDir empty;
  EXPECT_THROW(cifar10::locate(empty.path().string()), DataError);
}

TEST(Normalization, MatchesToTensorThenNormalize) {
  const Normalization norm({0.5, 0.4822, 0.4465}, {0.5, 0.2435, 0.2616});
  EXPECT_FLOAT_EQ(norm(0, 0), -1.0f);
  EXPECT_FLOAT_EQ(norm(0, 255), 1.0f);
  // computed in float in torchvision's order: (p / 255 - mean) / std
  EXPECT_EQ(norm(1, 100), (100.0f / 255.0f - 0.4822f) / 0.2435f);
}

TEST(Augment, FlipThenCropByHand) {
  // 3x3 image, pixel index = y * 3 + x
  const ImageDraw shift{false, 1, -1};             // down 1, left 1
  EXPECT_EQ(source_pixel(shift, 0, 0, 3, 3), -1);  // reads the padding
  EXPECT_EQ(source_pixel(shift, 0, 1, 3, 3), 3);   // (1, 0)
  EXPECT_EQ(source_pixel(shift, 2, 2, 3, 3), -1);
  const ImageDraw mirror{true, 0, 0};
  EXPECT_EQ(source_pixel(mirror, 0, 0, 3, 3), 2);
  EXPECT_EQ(source_pixel(mirror, 1, 2, 3, 3), 3);
  const ImageDraw both{true, 0, 1};  // mirror, then crop at +1
  EXPECT_EQ(source_pixel(both, 0, 0, 3, 3), 1);
  EXPECT_EQ(source_pixel(both, 0, 2, 3, 3), -1);
}

TEST(Augment, CutoutIsASquareAroundAUniformCentreClippedToTheImage) {
  // DeVries & Taylor's reference: rows clip(cy - L/2, 0, h) .. clip(cy + L/2, 0, h), exclusive.
  const int h = 6, w = 5;
  std::map<std::pair<int, int>, int> centres;
  for (int64_t p = 0; p < 6000; ++p) {
    const ImageDraw d = draw_for(BatchAugment{0, 0, 4}, 0x1234567ull, p, h, w);
    ASSERT_LE(0, d.cut_y0);
    ASSERT_LE(d.cut_y0, d.cut_y1);
    ASSERT_LE(d.cut_y1, h);
    ASSERT_LE(0, d.cut_x0);
    ASSERT_LE(d.cut_x0, d.cut_x1);
    ASSERT_LE(d.cut_x1, w);
    // The centre is the first row below the square's upper half; away from
    // the borders the square is exactly 4 x 4.
    const int cy = d.cut_y0 == 0 ? d.cut_y1 - 2 : d.cut_y0 + 2;
    const int cx = d.cut_x0 == 0 ? d.cut_x1 - 2 : d.cut_x0 + 2;
    if (d.cut_y0 > 0 && d.cut_y1 < h) {
      EXPECT_EQ(d.cut_y1 - d.cut_y0, 4);
    }
    if (d.cut_x0 > 0 && d.cut_x1 < w) {
      EXPECT_EQ(d.cut_x1 - d.cut_x0, 4);
    }
    ++centres[{cy, cx}];
    EXPECT_TRUE(cut_out(d, cy, cx) || cy >= h || cx >= w) << "the centre is cut out";
    EXPECT_FALSE(d.flip);
    EXPECT_EQ(d.dy, 0);
  }
  ASSERT_EQ(centres.size(), static_cast<size_t>(h * w)) << "every pixel is a centre";
  for (const auto& [at, n] : centres) {  // 200 expected each; 5 sigma is about 70
    EXPECT_GT(n, 130) << at.first << "," << at.second;
    EXPECT_LT(n, 270) << at.first << "," << at.second;
  }
  // Cutout draws leave the crop and flip draws as they were.
  for (int64_t p = 0; p < 50; ++p) {
    const ImageDraw a = draw_for(BatchAugment{3, 1}, 99, p, h, w);
    const ImageDraw b = draw_for(BatchAugment{3, 1, 4}, 99, p, h, w);
    EXPECT_EQ(a.flip, b.flip);
    EXPECT_EQ(a.dy, b.dy);
    EXPECT_EQ(a.dx, b.dx);
    EXPECT_EQ(a.cut_y1, 0) << "no square without cutout";
  }
}

TEST(Augment, CutoutZeroesTheNormalizedSquareAndNothingElse) {
  ImageDataset data;
  data.count = 6;
  data.channels = 3;
  data.height = data.width = 8;
  for (int i = 0; i < 6 * 192; ++i) data.pixels.push_back(static_cast<uint8_t>(i % 200 + 30));
  for (int i = 0; i < 6; ++i) data.labels.push_back(i);
  const Normalization norm({0.11, 0.21, 0.31}, {0.5, 0.5, 0.5});  // no pixel normalizes to 0
  const std::vector<float> plain = test::augmented_batch(data, norm, AugmentConfig{2, true}, 5, 2,
                                                         0, 6),
                           cut = test::augmented_batch(data, norm, AugmentConfig{2, true, 4}, 5, 2,
                                                       0, 6);
  for (int64_t i = 0; i < 6; ++i) {
    int64_t zeros = 0;
    int y0 = 8, y1 = -1, x0 = 8, x1 = -1;
    for (int64_t ch = 0; ch < 3; ++ch)
      for (int y = 0; y < 8; ++y)
        for (int xx = 0; xx < 8; ++xx) {
          const size_t at = static_cast<size_t>(((i * 3 + ch) * 8 + y) * 8 + xx);
          if (cut[at] == plain[at]) continue;
          ASSERT_EQ(cut[at], 0.0f) << "image " << i << " (" << y << ", " << xx << ")";
          ++zeros;
          y0 = std::min(y0, y), y1 = std::max(y1, y), x0 = std::min(x0, xx), x1 = std::max(x1, xx);
        }
    // One rectangle, in every channel, at most 4 x 4 (padding pixels are
    // nonzero once normalized, so every cut pixel shows).
    ASSERT_GT(zeros, 0) << "image " << i;
    EXPECT_EQ(zeros, 3 * (y1 - y0 + 1) * (x1 - x0 + 1)) << "image " << i;
    EXPECT_LE(y1 - y0 + 1, 4);
    EXPECT_LE(x1 - x0 + 1, 4);
  }
}

// A data set of 1x1 single-channel images whose pixel is their index.
ImageDataset numbered(int64_t count) {
  ImageDataset data;
  data.count = count;
  data.channels = 1;
  data.height = data.width = 1;
  for (int64_t i = 0; i < count; ++i) {
    data.pixels.push_back(static_cast<uint8_t>(i));
    data.labels.push_back(static_cast<int32_t>(i % 10));
  }
  return data;
}

TEST(DeviceDataset, SameSeedSameOrderAndEveryImageOncePerEpoch) {
  const ImageDataset data = numbered(10);
  const Normalization norm({0.0}, {1.0 / 255.0});  // value = pixel
  Context ctx(Device::CPU);
  auto epoch_order = [&](uint64_t seed) {
    DeviceDataset dataset(ctx, data, norm);
    StepArgs args(ctx);
    Rng rng(seed);
    dataset.start_epoch(rng, 0, true);
    std::vector<int32_t> seen;
    EXPECT_EQ(dataset.batches(4), 3);
    for (int64_t b = 0; b < 3; ++b) {
      const int64_t n = dataset.batch_count(b, 4);
      EXPECT_EQ(n, b < 2 ? 4 : 2);
      float x[4];
      int32_t l[4];
      dataset.load(b, 4, Tensor(x, Shape{n, 1, 1, 1}), Tensor(l, Shape{n}), args);
      for (int64_t i = 0; i < n; ++i) {
        EXPECT_EQ(l[i], static_cast<int32_t>(x[i] + 0.5f) % 10);  // image and label travel together
        seen.push_back(static_cast<int32_t>(x[i] + 0.5f));
      }
    }
    return seen;
  };
  const auto a = epoch_order(1), b = epoch_order(1), c = epoch_order(2);
  EXPECT_EQ(a, b);
  EXPECT_NE(a, c);
  EXPECT_EQ(std::set<int32_t>(a.begin(), a.end()).size(), 10u);
}

TEST(DeviceDataset, AugmentationDependsOnlyOnSeedEpochAndPosition) {
  ImageDataset data;
  data.count = 8;
  data.channels = 1;
  data.height = data.width = 4;
  for (int i = 0; i < 8 * 16; ++i) data.pixels.push_back(static_cast<uint8_t>(i % 251 + 1));
  for (int i = 0; i < 8; ++i) data.labels.push_back(i % 10);
  const Normalization norm({0.0}, {1.0 / 255.0});
  auto batch = [&](uint64_t seed, int64_t epoch, int64_t b) {
    return test::augmented_batch(data, norm, AugmentConfig{2, true}, seed, epoch, b, 4);
  };
  EXPECT_EQ(batch(1, 3, 1), batch(1, 3, 1));
  EXPECT_NE(batch(1, 3, 1), batch(1, 4, 1));
  EXPECT_NE(batch(1, 3, 1), batch(2, 3, 1));
  bool padding_seen = false;  // some crop reaches the padding (pixel 0)
  for (int64_t e = 0; e < 20; ++e)
    for (float v : batch(7, e, 0)) padding_seen |= v == 0.0f;
  EXPECT_TRUE(padding_seen);
}

TEST(DeviceDataset, PassBatchSizesNameTheFullAndThePartialBatch) {
  EXPECT_EQ(pass_batch_sizes(50000, 256), (std::vector<int64_t>{256, 80}));  // ResNet-18's epoch
  EXPECT_EQ(pass_batch_sizes(50000, 4), (std::vector<int64_t>{4}));          // the tutorial's
  EXPECT_EQ(pass_batch_sizes(3, 8), (std::vector<int64_t>{3}));
  EXPECT_EQ(pass_batch_sizes(0, 8), (std::vector<int64_t>{8}));
}

}  // namespace
}  // namespace cnne
