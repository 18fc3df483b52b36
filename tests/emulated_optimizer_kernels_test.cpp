// The optimizers' GPU kernels (SGD, Adam/AdamW with AMSGrad, RMSprop,
// Adagrad), run on CPU threads by the kernel emulation (Note [kernel
// emulation] in cuda/emulator.h), against the CPU reference bit for bit, with
// dynamic loss scaling's skipped steps. Launched on the grids of their .cu
// files.
#define CNNE_EMULATED_KERNELS 1
#include "cuda/emulator.h"

#include <gtest/gtest.h>

#include <cmath>
#include <span>
#include <string>
#include <vector>

#include "cuda/launch.h"
#include "engine/adagrad_kernel.cuh"
#include "engine/adam_kernel.cuh"
#include "engine/context.h"
#include "engine/ops.h"
#include "engine/optimizer_config.h"
#include "engine/rmsprop_kernel.cuh"
#include "engine/rng.h"
#include "engine/sgd_kernel.cuh"
#include "tests/emulated_test_util.h"

namespace cnne {
namespace {

using cnne_emu::launch;
using namespace cuda;  // the kernels and blocks_for
using namespace emulated_test;

const dim3 kBlock(kThreads);

// Parameters, gradients and three state buffers (the last two >= 0) for `count` elements.
struct UpdateInputs {
  std::vector<float> params, grads, first, second, third;
};

UpdateInputs update_inputs(int64_t count, uint64_t seed) {
  Rng rng(seed);
  return {uniform(rng, count, -1.0f, 1.0f), uniform(rng, count, -0.1f, 0.1f),
          uniform(rng, count, -0.05f, 0.05f), uniform(rng, count, 0.0f, 0.01f),
          uniform(rng, count, 0.0f, 0.01f)};
}

// The scaling states the update kernels meet: none, a clean step after 2
// skipped ones, a step that found a non-finite gradient (skipped).
std::vector<const LossScaleState*> scaling_cases() {
  static const LossScaleState after_skips{1024.0f, 3, 0, 2}, skipping{1024.0f, 0, 1, 2};
  return {nullptr, &after_skips, &skipping};
}

TEST(EmulatedKernels, SgdUpdateMatchesTheCpuWithSkippedSteps) {
  const int64_t count = 1000;
  SgdHyper plain;
  plain.lr = 0.05f;
  plain.momentum = 0.9f;
  SgdHyper every = plain;  // Nesterov, dampening, L2 and decoupled decay, on step 3
  every.nesterov = true;
  every.dampening = 0.1f;
  every.weight_decay = 5e-4f;
  every.decay_factor = 0.999f;
  every.step = 3;
  SgdHyper first = plain;
  first.first_step = 1;
  for (const SgdHyper& h : {plain, every, first})
    for (const LossScaleState* scaling : scaling_cases()) {
      const UpdateInputs in = update_inputs(count, 5);
      const Shape s{count};
      Context ctx(Device::CPU);
      Staged p = stage(in.params, s), g = stage(in.grads, s), m = stage(in.first, s);
      ops::sgd_update(ctx, &h, scaling, p.t, g.t, m.t);
      Staged pe = stage(in.params, s), ge = stage(in.grads, s), me = stage(in.first, s);
      launch(dim3(blocks_for(count)), kBlock, sgd_kernel, pe.as<float>(), ge.as<float>(),
             me.as<float>(), count, &h, scaling);
      const std::string at = "step " + std::to_string(h.step) +
                             (scaling ? " skipped " + std::to_string(scaling->skipped) +
                                            " found_inf " + std::to_string(scaling->found_inf)
                                      : " unscaled");
      EXPECT_EQ(values(pe), values(p)) << at;
      EXPECT_EQ(values(me), values(m)) << at;
    }
}

TEST(EmulatedKernels, AdamUpdateMatchesTheCpuWithSkippedSteps) {
  const int64_t count = 1000;
  AdamHyper adam;
  adam.lr = 0.002;
  adam.step = 5;
  adam_bias_corrections(adam.lr, adam.beta1_d, adam.beta2_d, adam.step, &adam.step_size,
                        &adam.bias_correction2_sqrt);
  AdamHyper adamw = adam;
  adamw.decay_factor = 1.0f - 0.002f * 0.01f;
  AdamHyper l2 = adam;
  l2.weight_decay = 1e-3f;
  for (const bool amsgrad : {false, true})
    for (const AdamHyper& h : {adam, adamw, l2})
      for (const LossScaleState* scaling : scaling_cases()) {
        const UpdateInputs in = update_inputs(count, 6);
        const Shape s{count};
        Context ctx(Device::CPU);
        Staged p = stage(in.params, s), g = stage(in.grads, s), m = stage(in.first, s),
               v = stage(in.second, s), vmax = stage(in.third, s);
        ops::adam_update(ctx, &h, scaling, p.t, g.t, m.t, v.t, amsgrad ? &vmax.t : nullptr);
        Staged pe = stage(in.params, s), ge = stage(in.grads, s), me = stage(in.first, s),
               ve = stage(in.second, s), vmaxe = stage(in.third, s);
        launch(dim3(blocks_for(count)), kBlock, adam_kernel, pe.as<float>(), ge.as<float>(),
               me.as<float>(), ve.as<float>(), amsgrad ? vmaxe.as<float>() : nullptr, count, &h,
               scaling);
        const std::string at = std::string(amsgrad ? "amsgrad, " : "") +
                               (scaling ? "scaled" : "unscaled") + ", skipped " +
                               std::to_string(scaling ? scaling->skipped : 0);
        EXPECT_EQ(values(pe), values(p)) << at;
        EXPECT_EQ(values(me), values(m)) << at;
        EXPECT_EQ(values(ve), values(v)) << at;
        EXPECT_EQ(values(vmaxe), values(vmax)) << at;
      }
}

// AMSGrad's maximum: the larger of the two where both are numbers, NaN where either is.
TEST(EmulatedKernels, AmsgradMaximumPropagatesNaNLikeTorchMaximum) {
  EXPECT_EQ(nan_max(1.0f, 2.0f), 2.0f);
  EXPECT_EQ(nan_max(3.0f, 2.0f), 3.0f);
  EXPECT_TRUE(std::isnan(nan_max(NAN, 2.0f)));
  EXPECT_TRUE(std::isnan(nan_max(2.0f, NAN)));
}

TEST(EmulatedKernels, RmspropUpdateMatchesTheCpuInEveryVariant) {
  const int64_t count = 1000;
  RmspropHyper plain;
  plain.neg_lr = -0.01f;
  RmspropHyper decayed = plain;
  decayed.weight_decay = 1e-3f;
  decayed.alpha = 0.9f;
  decayed.one_minus_alpha = 1.0f - 0.9f;
  for (const bool momentum : {false, true})
    for (const bool centered : {false, true})
      for (RmspropHyper h : {plain, decayed})
        for (const LossScaleState* scaling : scaling_cases()) {
          h.momentum = momentum ? 0.9f : 0.0f;
          const UpdateInputs in = update_inputs(count, 7);
          const Shape s{count};
          Context ctx(Device::CPU);
          // square_avg must stay above grad_avg squared: the centered root's argument
          Staged p = stage(in.params, s), g = stage(in.grads, s), sq = stage(in.second, s),
                 buf = stage(in.first, s), ga = stage(in.first, s);
          for (float& x : std::span(sq.as<float>(), count)) x += 0.01f;
          ops::rmsprop_update(ctx, &h, scaling, p.t, g.t, sq.t, momentum ? &buf.t : nullptr,
                              centered ? &ga.t : nullptr);
          Staged pe = stage(in.params, s), ge = stage(in.grads, s), sqe = stage(in.second, s),
                 bufe = stage(in.first, s), gae = stage(in.first, s);
          for (float& x : std::span(sqe.as<float>(), count)) x += 0.01f;
          launch(dim3(blocks_for(count)), kBlock, rmsprop_kernel, pe.as<float>(), ge.as<float>(),
                 sqe.as<float>(), momentum ? bufe.as<float>() : nullptr,
                 centered ? gae.as<float>() : nullptr, count, &h, scaling);
          const std::string at = std::string(momentum ? "momentum" : "plain") +
                                 (centered ? ", centered" : "") + ", decay " +
                                 std::to_string(h.weight_decay) +
                                 (scaling && scaling->found_inf ? ", skipped step" : "");
          EXPECT_EQ(values(pe), values(p)) << at;
          EXPECT_EQ(values(sqe), values(sq)) << at;
          EXPECT_EQ(values(bufe), values(buf)) << at;
          EXPECT_EQ(values(gae), values(ga)) << at;
          if (scaling && scaling->found_inf) {
            EXPECT_EQ(values(p), in.params) << at;
          }
        }
}

TEST(EmulatedKernels, AdagradUpdateMatchesTheCpuWithSkippedSteps) {
  const int64_t count = 1000;
  OptimizerConfig config;
  config.type = "adagrad";
  config.lr_decay = 0.05;
  config.eps = 1e-10;
  AdagradHyper plain = config.adagrad(0.01, 6);
  config.weight_decay = 1e-3;
  AdagradHyper decayed = config.adagrad(0.01, 6);
  for (const AdagradHyper& h : {plain, decayed})
    for (const LossScaleState* scaling : scaling_cases()) {
      const UpdateInputs in = update_inputs(count, 8);
      const Shape s{count};
      Context ctx(Device::CPU);
      Staged p = stage(in.params, s), g = stage(in.grads, s), sum = stage(in.second, s);
      ops::adagrad_update(ctx, &h, scaling, p.t, g.t, sum.t);
      Staged pe = stage(in.params, s), ge = stage(in.grads, s), sume = stage(in.second, s);
      launch(dim3(blocks_for(count)), kBlock, adagrad_kernel, pe.as<float>(), ge.as<float>(),
             sume.as<float>(), count, &h, scaling);
      const std::string at = std::string(scaling ? "scaled" : "unscaled") + ", skipped " +
                             std::to_string(scaling ? scaling->skipped : 0);
      EXPECT_EQ(values(pe), values(p)) << at;
      EXPECT_EQ(values(sume), values(sum)) << at;
    }
}

// Note [skipped steps]: after k skipped steps the rate decays as at step t - k.
TEST(Adagrad, SkippedStepsLowerTheDecayedRatesStep) {
  OptimizerConfig config;
  config.type = "adagrad";
  config.lr_decay = 0.5;
  const AdagradHyper h = config.adagrad(0.1, 4);
  EXPECT_EQ(h.neg_clr, static_cast<float>(-0.1 / (1 + 3 * 0.5)));
  const LossScaleState after_two{1024.0f, 0, 0, 2};
  float p = 1.0f, g = 0.5f, sum = 0.0f;
  Context ctx(Device::CPU);
  ops::adagrad_update(ctx, &h, &after_two, Tensor(&p, Shape{1}), Tensor(&g, Shape{1}),
                      Tensor(&sum, Shape{1}));
  const float clr = static_cast<float>(-0.1 / (1 + 1 * 0.5));  // step 4 - 2
  EXPECT_EQ(sum, 0.25f);
  EXPECT_EQ(p, 1.0f + (clr * 0.5f) / (std::sqrt(0.25f) + 1e-10f));
}

}  // namespace
}  // namespace cnne
