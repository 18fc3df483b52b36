// SGD by hand: PyTorch's torch.optim.SGD on two steps of one parameter.
#include <gtest/gtest.h>

#include "engine/ops.h"

namespace cnne {
namespace {

// Returns p after two updates with gradients g1 then g2, starting from p0.
float two_steps(const SgdHyper& h, float p0, float g1, float g2) {
  Context ctx(Device::CPU);
  float p = p0, g = g1, buf = 12345.0f;  // buf's start value must not matter
  SgdHyper step = h;
  step.first_step = 1;
  ops::sgd_update(ctx, &step, nullptr, Tensor(&p, Shape{1}), Tensor(&g, Shape{1}),
                  Tensor(&buf, Shape{1}));
  step.first_step = 0;
  g = g2;
  ops::sgd_update(ctx, &step, nullptr, Tensor(&p, Shape{1}), Tensor(&g, Shape{1}),
                  Tensor(&buf, Shape{1}));
  return p;
}

TEST(Sgd, PlainStep) {
  SgdHyper h;
  h.lr = 0.5f;
  EXPECT_FLOAT_EQ(two_steps(h, 1.0f, 0.2f, 0.4f), 1.0f - 0.5f * 0.2f - 0.5f * 0.4f);
}

TEST(Sgd, MomentumStartsFromTheFirstGradient) {
  SgdHyper h;
  h.lr = 0.1f;
  h.momentum = 0.9f;
  h.dampening = 0.5f;  // PyTorch skips dampening on the first step (buf = grad)
  const float buf1 = 0.2f;
  const float buf2 = 0.9f * buf1 + 0.5f * 0.4f;
  EXPECT_FLOAT_EQ(two_steps(h, 1.0f, 0.2f, 0.4f), 1.0f - 0.1f * buf1 - 0.1f * buf2);
}

TEST(Sgd, WeightDecayAndNesterov) {
  SgdHyper h;
  h.lr = 0.1f;
  h.momentum = 0.9f;
  h.weight_decay = 0.01f;
  h.nesterov = true;
  float p = 1.0f;
  const float d1 = 0.2f + 0.01f * p;
  float buf = d1;
  p -= 0.1f * (d1 + 0.9f * buf);
  const float d2 = 0.4f + 0.01f * p;
  buf = 0.9f * buf + d2;
  p -= 0.1f * (d2 + 0.9f * buf);
  EXPECT_FLOAT_EQ(two_steps(h, 1.0f, 0.2f, 0.4f), p);
}

}  // namespace
}  // namespace cnne
