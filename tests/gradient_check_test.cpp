// Finite differences on the CPU reference, for every layer (DESIGN: testing).
#include <gtest/gtest.h>

#include <cmath>
#include <numeric>

#include "engine/ops.h"
#include "layers/conv2d.h"
#include "layers/flatten.h"
#include "layers/linear.h"
#include "layers/pool2d.h"
#include "layers/relu.h"
#include "tests/test_util.h"

namespace cnne {
namespace {

using test::HostTensor;

struct ConvCase {
  int64_t n, c, h, w, k, r, s;
  int stride_h, stride_w, pad_h, pad_w;
  bool bias;
  int groups = 1;
  int dilation_h = 1, dilation_w = 1;
};

void PrintTo(const ConvCase& c, std::ostream* os) {
  *os << "x" << c.n << "x" << c.c << "x" << c.h << "x" << c.w << "_k" << c.k << "x" << c.r << "x"
      << c.s << "_s" << c.stride_h << c.stride_w << "_p" << c.pad_h << c.pad_w
      << (c.bias ? "" : "_nobias") << (c.groups > 1 ? "_g" + std::to_string(c.groups) : "")
      << (c.dilation_h * c.dilation_w > 1
              ? "_d" + std::to_string(c.dilation_h) + std::to_string(c.dilation_w)
              : "");
}

class Conv2dGradient : public ::testing::TestWithParam<ConvCase> {};

TEST_P(Conv2dGradient, MatchesFiniteDifferences) {
  const ConvCase p = GetParam();
  Conv2d::Options o;
  o.in_channels = p.c;
  o.out_channels = p.k;
  o.kernel_h = p.r;
  o.kernel_w = p.s;
  o.params = {p.stride_h, p.stride_w, p.pad_h, p.pad_w};
  o.bias = p.bias;
  o.params.groups = p.groups;
  o.params.dilation_h = p.dilation_h;
  o.params.dilation_w = p.dilation_w;
  Conv2d conv("conv", o);
  Rng rng(11);
  const Shape in{p.n, p.c, p.h, p.w};
  const auto x = test::random_tensor(rng, in);
  EXPECT_EQ(test::gradient_check(conv, in, x, 3), "");
}

INSTANTIATE_TEST_SUITE_P(
    Shapes, Conv2dGradient,
    ::testing::Values(ConvCase{2, 3, 8, 8, 4, 5, 5, 1, 1, 0, 0, true},      // the tutorial's kind
                      ConvCase{1, 2, 7, 6, 3, 3, 3, 1, 1, 1, 1, true},      // padding, odd sizes
                      ConvCase{2, 3, 9, 9, 2, 3, 3, 2, 2, 1, 1, false},     // stride 2, no bias
                      ConvCase{3, 4, 5, 5, 5, 1, 1, 1, 1, 0, 0, true},      // 1x1 (no im2col)
                      ConvCase{1, 1, 6, 7, 2, 2, 3, 2, 1, 0, 1, true},      // mixed h/w settings
                      ConvCase{2, 4, 6, 6, 6, 3, 3, 1, 1, 1, 1, true, 2},   // 2 groups
                      ConvCase{2, 3, 7, 7, 3, 3, 3, 2, 2, 1, 1, false, 3},  // depthwise
                      ConvCase{2, 2, 5, 5, 6, 3, 3, 1, 1, 0, 0, true, 2},   // depth multiplier 3
                      ConvCase{3, 6, 4, 4, 4, 1, 1, 1, 1, 0, 0, true, 2},   // grouped 1x1
                      ConvCase{2, 3, 9, 8, 4, 3, 3, 1, 1, 2, 2, true, 1, 2, 2},    // dilation 2
                      ConvCase{1, 2, 11, 9, 3, 3, 2, 2, 1, 1, 2, false, 1, 2, 3},  // strided
                      ConvCase{2, 4, 8, 7, 4, 3, 3, 1, 1, 3, 3, true, 2, 3, 3}));  // + groups

TEST(LinearGradient, MatchesFiniteDifferences) {
  for (bool bias : {true, false}) {
    Linear fc("fc", 7, 5, bias);
    Rng rng(5);
    const Shape in{3, 7};
    EXPECT_EQ(test::gradient_check(fc, in, test::random_tensor(rng, in), 9), "") << bias;
  }
}

TEST(ReLUGradient, MatchesFiniteDifferencesAwayFromTheKink) {
  ReLU relu("relu");
  Rng rng(2);
  const Shape in{2, 3, 4, 5};
  HostTensor x(in);
  for (auto& v : x.values)  // |x| >= 0.05 > eps: never crosses zero
    v = (rng.uniform01() < 0.5f ? -1.0f : 1.0f) * rng.uniform(0.05f, 1.0f);
  EXPECT_EQ(test::gradient_check(relu, in, x, 4), "");
}

TEST(MaxPoolGradient, MatchesFiniteDifferencesWithoutTies) {
  for (Pool2dParams p : {Pool2dParams{2, 2, 2, 2, 0, 0}, Pool2dParams{3, 3, 2, 2, 1, 1},
                         Pool2dParams{3, 2, 1, 2, 0, 1}}) {
    MaxPool2d pool("pool", p);
    const Shape in{2, 2, 7, 6};
    HostTensor x(in);
    // Distinct values 0.05 apart: a +-0.01 nudge never changes a window's winner.
    std::vector<int32_t> order(static_cast<size_t>(in.numel()));
    std::iota(order.begin(), order.end(), 0);
    Rng rng(8);
    rng.shuffle(order);
    for (size_t i = 0; i < order.size(); ++i) x[i] = 0.05f * static_cast<float>(order[i]) - 3.0f;
    EXPECT_EQ(test::gradient_check(pool, in, x, 6), "") << pool.repr();
  }
}

TEST(FlattenGradient, IsTheIdentity) {
  Flatten flat("flatten");
  Rng rng(1);
  const Shape in{2, 3, 2, 2};
  EXPECT_EQ(test::gradient_check(flat, in, test::random_tensor(rng, in), 2), "");
}

class SoftmaxCrossEntropyGradient : public ::testing::TestWithParam<float> {};

TEST_P(SoftmaxCrossEntropyGradient, MatchesFiniteDifferences) {
  const float smoothing = GetParam();
  Context ctx(Device::CPU);
  Rng rng(3);
  const int64_t n = 4, k = 6;
  HostTensor logits = test::random_tensor(rng, Shape{n, k}, -3.0f, 3.0f);
  std::vector<int32_t> labels{0, 5, 2, 2};
  const Tensor label_view(labels.data(), Shape{n});
  auto loss = [&] {
    float sum = 0;
    int32_t correct = 0;
    ops::softmax_cross_entropy(ctx, logits.view(), label_view, smoothing, nullptr, nullptr,
                               Tensor(&sum, Shape{1}), Tensor(&correct, Shape{1}));
    return static_cast<double>(sum);
  };
  HostTensor grad(Shape{n, k});
  float sum = 0;
  int32_t correct = 0;
  const Tensor grad_view = grad.view();
  ops::softmax_cross_entropy(ctx, logits.view(), label_view, smoothing, nullptr, &grad_view,
                             Tensor(&sum, Shape{1}), Tensor(&correct, Shape{1}));
  const double eps = 1e-2;
  for (size_t i = 0; i < logits.values.size(); ++i) {
    const float saved = logits[i];
    logits[i] = saved + static_cast<float>(eps);
    const double plus = loss();
    logits[i] = saved - static_cast<float>(eps);
    const double minus = loss();
    logits[i] = saved;
    EXPECT_NEAR(grad[i], (plus - minus) / (2 * eps), 1e-4) << "element " << i;
  }
}

INSTANTIATE_TEST_SUITE_P(LabelSmoothing, SoftmaxCrossEntropyGradient,
                         ::testing::Values(0.0f, 0.1f, 0.3f));

}  // namespace
}  // namespace cnne
