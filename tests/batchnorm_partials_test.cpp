// The GPU batch norm's split arithmetic (layers/batchnorm_partials.h), run on
// the CPU the way its kernels run it: every value visited once, and the
// merged block moments equal to a two-pass mean and variance in double.
#include <gtest/gtest.h>

#include <cmath>
#include <vector>

#include "engine/rng.h"
#include "layers/batchnorm_partials.h"

namespace cnne {
namespace {

struct Moments {
  double mean, var;
};

// The two kernels' arithmetic, block by block: per-block sums, moments, merge.
std::vector<Moments> split_moments(const std::vector<float>& x, const Shape& s) {
  const BatchNormDims d{static_cast<uint32_t>(s[1]), static_cast<uint32_t>(s[2] * s[3]),
                        static_cast<uint32_t>(s[0] * s[2] * s[3]),
                        batchnorm_splits(s[0], s[1], s[2] * s[3])};
  std::vector<double> partial(static_cast<size_t>(d.c) * d.splits * 2);
  std::vector<int> visits(x.size(), 0);
  for (uint32_t c = 0; c < d.c; ++c)
    for (int b = 0; b < d.splits; ++b) {
      double sum = 0, sq = 0;
      const uint32_t begin = batchnorm_split_begin(d, b), end = batchnorm_split_begin(d, b + 1);
      const double shift = x[static_cast<size_t>(batchnorm_index(d, c, 0))];
      for (uint32_t j = begin; j < end; ++j) {
        const int64_t i = batchnorm_index(d, c, j);
        ++visits[static_cast<size_t>(i)];
        const double v = x[static_cast<size_t>(i)] - shift;
        sum += v;
        sq += v * v;
      }
      batchnorm_block_moments(sum, sq, end - begin, shift,
                              &partial[(size_t(c) * d.splits + b) * 2]);
    }
  for (size_t i = 0; i < visits.size(); ++i) EXPECT_EQ(visits[i], 1) << "value " << i;
  std::vector<Moments> out;
  for (uint32_t c = 0; c < d.c; ++c) {
    double mean = 0, m2 = 0;
    batchnorm_merge_moments(d, partial.data(), c, &mean, &m2);
    out.push_back({mean, m2 / d.values});
  }
  return out;
}

std::vector<Moments> two_pass(const std::vector<float>& x, const Shape& s) {
  const int64_t n = s[0], c = s[1], hw = s[2] * s[3];
  std::vector<Moments> out;
  for (int64_t ch = 0; ch < c; ++ch) {
    double sum = 0;
    for (int64_t i = 0; i < n; ++i)
      for (int64_t k = 0; k < hw; ++k) sum += x[static_cast<size_t>((i * c + ch) * hw + k)];
    const double mean = sum / static_cast<double>(n * hw);
    double sq = 0;
    for (int64_t i = 0; i < n; ++i)
      for (int64_t k = 0; k < hw; ++k) {
        const double v = x[static_cast<size_t>((i * c + ch) * hw + k)] - mean;
        sq += v * v;
      }
    out.push_back({mean, sq / static_cast<double>(n * hw)});
  }
  return out;
}

TEST(BatchNormPartials, SplitsCoverEveryValueOnceAndMergeToTheTwoPassMoments) {
  // Chunks that straddle planes, one split, many splits, 1x1 maps, and values
  // far from zero (mean 1000, spread 1: the sum-of-squares trap).
  const Shape shapes[] = {Shape{9, 3, 37, 29},  Shape{4, 6, 8, 8},   Shape{64, 2, 16, 16},
                          Shape{256, 64, 8, 8}, Shape{300, 5, 1, 1}, Shape{2, 1, 100, 100}};
  Rng rng(21);
  for (const Shape& s : shapes) {
    for (double offset : {0.0, 1000.0}) {
      std::vector<float> x(static_cast<size_t>(s.numel()));
      for (float& v : x) v = static_cast<float>(offset + rng.uniform(-1.0f, 1.0f));
      const std::vector<Moments> got = split_moments(x, s), want = two_pass(x, s);
      ASSERT_EQ(got.size(), want.size());
      for (size_t ch = 0; ch < got.size(); ++ch) {
        EXPECT_NEAR(got[ch].mean, want[ch].mean, 1e-12 * (1 + std::abs(want[ch].mean)))
            << s.str() << " channel " << ch;
        EXPECT_NEAR(got[ch].var, want[ch].var, 1e-12 * want[ch].var)
            << s.str() << " channel " << ch;
      }
    }
  }
}

TEST(BatchNormPartials, SmallerBatchesNeverNeedMoreWorkspace) {
  for (int64_t c : {1, 3, 64, 512, 2048})
    for (int64_t hw : {1, 16, 1024})
      for (int64_t n = 1; n < 300; n += 7) {
        EXPECT_LE(batchnorm_splits(n, c, hw), batchnorm_splits(n + 1, c, hw));
        EXPECT_GE(batchnorm_splits(n, c, hw), 1);
        EXPECT_LE(static_cast<int64_t>(batchnorm_splits(n, c, hw)), std::max<int64_t>(1, n * hw));
      }
}

}  // namespace
}  // namespace cnne
