// Hand-computed cases: convolution padding and stride, pooling ties,
// softmax cross-entropy values, and the backward contract (NaN fill).
#include <gtest/gtest.h>

#include <cmath>
#include <limits>

#include "engine/error.h"
#include "engine/ops.h"
#include "engine/rng.h"
#include "layers/conv2d.h"
#include "layers/linear.h"
#include "layers/pool2d.h"
#include "layers/relu.h"
#include "tests/test_util.h"

namespace cnne {
namespace {

using test::HostTensor;

TEST(Conv2dCases, PaddingAndStrideByHand) {
  // x (1, 1, 3, 3) = 1..9; w (1, 1, 2, 2) = [[1, 0], [0, 1]]; pad 1, stride 2 -> y (1, 1, 2, 2)
  Context ctx(Device::CPU);
  HostTensor x(Shape{1, 1, 3, 3});
  for (int i = 0; i < 9; ++i) x[static_cast<size_t>(i)] = static_cast<float>(i + 1);
  HostTensor w(Shape{1, 1, 2, 2});
  w.values = {1, 0, 0, 1};
  HostTensor b(Shape{1}, 0.5f);
  const Conv2dParams p{2, 2, 1, 1};
  ctx.reserve_workspace(ops::conv2d_workspace_bytes(ctx, p, x.shape, w.shape, DType::F32));
  HostTensor y(Shape{1, 1, 2, 2});
  const Tensor bias = b.view();
  ops::conv2d_forward(ctx, p, x.view(), w.view(), &bias, FusedActivation::kNone, y.view());
  // Windows start at (-1,-1), (-1,1), (1,-1), (1,1) of the unpadded image:
  //   (-1,-1): pad*1 + x[0][0]*1 = 1;  (-1,1): pad + x[0][2] = 3
  //   (1,-1): pad + x[2][0] = 7;       (1,1): x[1][1] + x[2][2] = 5 + 9 = 14
  EXPECT_EQ(y.values, (std::vector<float>{1.5f, 3.5f, 7.5f, 14.5f}));

  // Backward data of dy = 1 everywhere: each x pixel gets the weights that touched it.
  HostTensor dy(y.shape, 1.0f), dx(x.shape);
  ops::conv2d_backward_data(ctx, p, w.view(), dy.view(), dx.view());
  EXPECT_EQ(dx.values, (std::vector<float>{1, 0, 1, 0, 1, 0, 1, 0, 1}));
  HostTensor dw(w.shape), db(b.shape);
  ops::conv2d_backward_filter(ctx, p, x.view(), dy.view(), dw.view());
  ops::conv2d_backward_bias(ctx, dy.view(), db.view());
  // dw[r][s] = sum over outputs of the pixel each tap read: taps (0,0) read pad,pad,pad,5.
  EXPECT_EQ(dw.values, (std::vector<float>{5, 4 + 6, 2 + 8, 1 + 3 + 7 + 9}));
  EXPECT_EQ(db.values, (std::vector<float>{4}));
}

TEST(MaxPoolCases, TiesGoToTheFirstMaximumInWindowOrder) {
  Context ctx(Device::CPU);
  HostTensor x(Shape{1, 1, 2, 4});
  x.values = {3, 3, 1, 2,   // window 0 = {3, 3, 3, 0}: three-way tie -> first (0, 0)
              3, 0, 2, 2};  // window 1 = {1, 2, 2, 2}: tie -> (0, 3)
  const Pool2dParams p{2, 2, 2, 2, 0, 0};
  HostTensor y(Shape{1, 1, 1, 2});
  ops::maxpool2d_forward(ctx, p, x.view(), y.view());
  EXPECT_EQ(y.values, (std::vector<float>{3, 2}));
  HostTensor dy(y.shape), dx(x.shape, 99.0f);
  dy.values = {10, 20};
  ops::maxpool2d_backward(ctx, p, x.view(), y.view(), dy.view(), dx.view());
  EXPECT_EQ(dx.values, (std::vector<float>{10, 0, 0, 20, 0, 0, 0, 0}));
}

// The 2x2 stride-2 fast path (vectorized rows with scalar tails) against the
// rule written out: the first maximum in window order wins, a NaN beats
// everything and a later NaN beats an earlier one; rows and columns past the
// last whole window get no gradient. Small integers make ties common.
TEST(MaxPoolCases, TwoByTwoFastPathFollowsTheRuleOnTiesAndNaNs) {
  for (int threads : {1, 3}) {
    Context ctx(Device::CPU, threads);
    const Shape in{3, 2, 9, 38}, out{3, 2, 4, 19};  // 19 = a vector body and a scalar tail
    HostTensor x(in);
    Rng rng(3);
    for (float& v : x.values) {
      const float u = rng.uniform01();
      v = u < 0.02f ? std::numeric_limits<float>::quiet_NaN() : std::floor(u * 4.0f);
    }
    HostTensor y(out), dy(out), dx(in, 99.0f);
    for (size_t i = 0; i < dy.values.size(); ++i) dy[i] = static_cast<float>(i + 1);
    const Pool2dParams p{2, 2, 2, 2, 0, 0};
    ops::maxpool2d_forward(ctx, p, x.view(), y.view());
    ops::maxpool2d_backward(ctx, p, x.view(), y.view(), dy.view(), dx.view());

    HostTensor want_y(out), want_dx(in, 0.0f);
    for (int64_t plane = 0; plane < 6; ++plane)
      for (int64_t op = 0; op < 4; ++op)
        for (int64_t oq = 0; oq < 19; ++oq) {
          int64_t best = -1;
          for (int64_t r = 0; r < 2; ++r)
            for (int64_t c = 0; c < 2; ++c) {
              const int64_t at = (plane * 9 + 2 * op + r) * 38 + 2 * oq + c;
              const float v = x[static_cast<size_t>(at)];
              if (best < 0 || std::isnan(v) ||
                  (!std::isnan(x[static_cast<size_t>(best)]) && v > x[static_cast<size_t>(best)]))
                best = at;
            }
          const size_t o = static_cast<size_t>((plane * 4 + op) * 19 + oq);
          want_y[o] = x[static_cast<size_t>(best)];
          want_dx[static_cast<size_t>(best)] = dy[o];
        }
    for (size_t i = 0; i < y.values.size(); ++i) {
      if (std::isnan(want_y[i]))
        EXPECT_TRUE(std::isnan(y[i])) << i;
      else
        EXPECT_EQ(y[i], want_y[i]) << i;
    }
    EXPECT_EQ(dx.values, want_dx.values) << threads << " threads";
  }
}

TEST(MaxPoolCases, PaddingNeverWinsAndOverlapsAccumulate) {
  Context ctx(Device::CPU);
  HostTensor x(Shape{1, 1, 1, 3});
  x.values = {-5, -1, -7};
  const Pool2dParams p{1, 3, 1, 1, 0, 1};  // 1x3 windows, stride 1, pad 1 on the width
  HostTensor y(Shape{1, 1, 1, 3});
  ops::maxpool2d_forward(ctx, p, x.view(), y.view());
  EXPECT_EQ(y.values, (std::vector<float>{-1, -1, -1}));  // the padding (-inf) never wins
  HostTensor dy(y.shape, 1.0f), dx(x.shape);
  ops::maxpool2d_backward(ctx, p, x.view(), y.view(), dy.view(), dx.view());
  EXPECT_EQ(dx.values, (std::vector<float>{0, 3, 0}));
}

TEST(SoftmaxCrossEntropyCases, ValuesByHand) {
  Context ctx(Device::CPU);
  HostTensor logits(Shape{2, 3});
  logits.values = {0,    0, 0,       // uniform: loss log(3)
                   1000, 0, -1000};  // huge margin, label 0: loss ~0, no overflow
  std::vector<int32_t> labels{1, 0};
  HostTensor grad(logits.shape);
  float loss = 0.25f;  // the op adds to it
  int32_t correct = 1;
  const Tensor g = grad.view();
  ops::softmax_cross_entropy(ctx, logits.view(), Tensor(labels.data(), Shape{2}), 0.0f, nullptr, &g,
                             Tensor(&loss, Shape{1}), Tensor(&correct, Shape{1}));
  EXPECT_NEAR(loss, 0.25 + std::log(3.0) / 2, 1e-6);
  EXPECT_EQ(correct, 1 + 1);  // row 0's argmax is 0 (first of a tie) != 1; row 1 right
  const float third = 1.0f / 3.0f;
  EXPECT_NEAR(grad[0], third / 2, 1e-7);
  EXPECT_NEAR(grad[1], (third - 1) / 2, 1e-7);
  EXPECT_NEAR(grad[3], 0.0f, 1e-7);
  EXPECT_NEAR(grad[5], 0.0f, 1e-7);
}

TEST(SoftmaxCrossEntropyCases, RejectsLabelsOutOfRange) {
  Context ctx(Device::CPU);
  HostTensor logits(Shape{1, 3});
  int32_t label = 3, correct = 0;
  float loss = 0;
  EXPECT_THROW(
      ops::softmax_cross_entropy(ctx, logits.view(), Tensor(&label, Shape{1}), 0.0f, nullptr,
                                 nullptr, Tensor(&loss, Shape{1}), Tensor(&correct, Shape{1})),
      Error);
}

// Note [backward contract]: every gradient element is assigned, so NaN-filled
// buffers come back free of NaN.
void expect_backward_assigns_everything(Layer& layer, Shape in) {
  Context ctx(Device::CPU);
  test::LayerHarness h(ctx, layer, in);
  Rng rng(4);
  const HostTensor x = test::random_tensor(rng, in);
  const HostTensor y = h.forward(x);
  const HostTensor dy = test::random_tensor(rng, y.shape);
  const float nan = std::numeric_limits<float>::quiet_NaN();
  for (auto& g : h.grads()) std::fill(g.values.begin(), g.values.end(), nan);
  HostTensor dx(in, nan);
  const Tensor dx_view = dx.view();
  layer.backward(ctx, x.view(), y.view(), dy.view(), &dx_view);
  for (float v : dx.values) ASSERT_FALSE(std::isnan(v)) << layer.repr() << " dx";
  for (auto& g : h.grads())
    for (float v : g.values) ASSERT_FALSE(std::isnan(v)) << layer.repr() << " param grad";
}

TEST(BackwardContract, EveryLayerAssignsEveryGradient) {
  Conv2d::Options o;
  o.in_channels = 3;
  o.out_channels = 4;
  o.kernel_h = o.kernel_w = 3;
  o.params = {2, 2, 1, 1};
  Conv2d conv("conv", o);
  expect_backward_assigns_everything(conv, Shape{2, 3, 7, 7});
  MaxPool2d pool("pool", Pool2dParams{3, 3, 2, 2, 1, 1});
  expect_backward_assigns_everything(pool, Shape{2, 3, 7, 7});
  ReLU relu("relu");
  expect_backward_assigns_everything(relu, Shape{2, 5});
  Linear fc("fc", 5, 3, true);
  expect_backward_assigns_everything(fc, Shape{2, 5});
}

TEST(InitCases, PyTorchDefaultBoundsAndSpread) {
  // Conv2d(6, 16, 5): weight and bias ~ U(-1/sqrt(150), 1/sqrt(150)).
  Conv2d::Options o;
  o.in_channels = 6;
  o.out_channels = 16;
  o.kernel_h = o.kernel_w = 5;
  Conv2d conv("conv", o);
  HostTensor w(Shape{16, 6, 5, 5}), b(Shape{16});
  Rng rng(0);
  std::vector<Tensor> views{w.view(), b.view()};
  conv.initialize(rng, views);
  const double bound = 1.0 / std::sqrt(150.0);
  double sum = 0, sq = 0;
  for (float v : w.values) {
    ASSERT_LE(std::fabs(v), bound);
    sum += v;
    sq += static_cast<double>(v) * v;
  }
  const double n = static_cast<double>(w.values.size());
  EXPECT_NEAR(sum / n, 0.0, 0.1 * bound);
  // U(-a, a) has variance a^2 / 3
  EXPECT_NEAR(sq / n, bound * bound / 3, 0.1 * bound * bound / 3);
  for (float v : b.values) ASSERT_LE(std::fabs(v), bound);
}

}  // namespace
}  // namespace cnne
