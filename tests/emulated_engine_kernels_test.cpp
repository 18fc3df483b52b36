// The engine's own GPU kernels, run on CPU threads by the kernel emulation
// (Note [kernel emulation] in cuda/emulator.h), against the CPU reference:
// batch assembly with augmentation into either layout, gradient unscaling and
// the scale's update (the optimizers': emulated_optimizer_kernels_test.cpp), conversion between
// dtypes and layouts, and the elementwise utilities. Launched on the grids of their .cu files.
#define CNNE_EMULATED_KERNELS 1
#include "cuda/emulator.h"

#include <gtest/gtest.h>

#include <cmath>
#include <string>
#include <vector>

#include "cuda/launch.h"
#include "engine/augment_policy_kernel.cuh"
#include "engine/augment_policy_table.h"
#include "engine/batch_assembly_kernel.cuh"
#include "engine/context.h"
#include "engine/erasing_config.h"
#include "engine/fill_kernels.cuh"
#include "engine/ops.h"
#include "engine/rng.h"
#include "tests/emulated_test_util.h"

namespace cnne {
namespace {

using cnne_emu::launch;
using namespace cuda;  // the kernels and blocks_for
using namespace emulated_test;

const dim3 kBlock(kThreads);

// ---- batch assembly

TEST(EmulatedKernels, BatchAssemblyMatchesTheCpuWithAugmentationInBothLayouts) {
  const int64_t count = 9, c = 3, h = 6, w = 5, n = 4;
  Rng rng(3);
  std::vector<uint8_t> pixels(static_cast<size_t>(count * c * h * w));
  for (uint8_t& p : pixels) p = static_cast<uint8_t>(rng.uniform(0.0f, 255.99f));
  std::vector<int32_t> labels(count), order(count);
  for (int64_t i = 0; i < count; ++i) {
    labels[i] = static_cast<int32_t>(i % 10);
    order[i] = static_cast<int32_t>((i * 4 + 1) % count);
  }
  const std::vector<float> lut = uniform(rng, c * 256, -1.0f, 1.0f);
  const BatchArgs plain{3, 0x9e3779b97f4a7c15ull};
  // Note [batch mixing]: a MixUp batch and a CutMix batch (box rows 1..4, columns 2..5)
  BatchArgs mixup = plain, cutmix = plain;
  mixup.count = cutmix.count = static_cast<int32_t>(n);
  mixup.mix_mode = kMixUp;
  mixup.mix_lambda = 0.6875f;
  mixup.mix_other = 1.0f - 0.6875f;
  cutmix.mix_mode = kCutMix;
  cutmix.box_y0 = 1, cutmix.box_y1 = 4, cutmix.box_x0 = 2, cutmix.box_x1 = 5;
  cutmix.mix_lambda = 1.0f - 9.0f / 30.0f;
  const Shape xs{n, c, h, w};
  // Note [random erasing]: most images of the batch erased, a value per channel
  BatchAugment erasing{1, 1};
  ErasingConfig erase;
  erase.p = 0.9;
  erase.scale_lo = 0.05, erase.scale_hi = 0.5;
  erase.value = {0.5, -1.5, 3.0};
  set_erasing(erasing, erase, c);
  for (const BatchArgs& args : {plain, mixup, cutmix})
    for (const BatchAugment& aug : {BatchAugment{0, 0}, BatchAugment{2, 1}, BatchAugment{1, 2},
                                    BatchAugment{2, 1, 3}, BatchAugment{0, 0, 16}, erasing})
      for (const DType dtype : {DType::F32, DType::BF16})
        for (const bool channels_last : {false, true}) {
          Context ctx(Device::CPU);
          Staged want = stage(std::vector<float>(xs.numel()), xs, dtype);
          const int64_t label_count =
              args.mix_mode == kNoMix ? n : 2 * n;  // mixed: + the neighbours'
          std::vector<int32_t> want_labels(label_count, -1), got_labels(label_count, -1);
          ops::assemble_batch(ctx, Tensor(pixels.data(), Shape{count, c, h, w}),
                              Tensor(labels.data(), Shape{count}),
                              Tensor(order.data(), Shape{count}), &args, aug,
                              Tensor(const_cast<float*>(lut.data()), Shape{c, 256}), want.t,
                              Tensor(want_labels.data(), Shape{label_count}));

          Staged got = stage(std::vector<float>(xs.numel(), NAN), xs, dtype, channels_last);
          BatchSource source;  // as engine/batch_assembly_cuda.cu fills it
          source.pixels = pixels.data();
          source.labels = labels.data();
          source.order = order.data();
          source.lut = lut.data();
          source.aug = aug;
          source.channels = static_cast<int32_t>(c);
          source.height = static_cast<int32_t>(h);
          source.width = static_cast<int32_t>(w);
          const int64_t total = xs.numel();
          with_float_type(dtype, "test", [&](auto tag) {  // as engine/batch_assembly_cuda.cu
            using T = typename decltype(tag)::type;
            launch(dim3(blocks_for(total)), kBlock, assemble_kernel<T>, source, &args, got.as<T>(),
                   got_labels.data(), total, got.t.channels_last);
          });
          const std::string at =
              "crop " + std::to_string(aug.crop_padding) + " flip " + std::to_string(aug.flip) +
              " cutout " + std::to_string(aug.cutout) + " erase " + std::to_string(aug.erase_p) +
              " mix " + std::to_string(args.mix_mode) + " " + std::string(dtype_name(dtype)) +
              (channels_last ? " channels-last" : " NCHW");
          EXPECT_EQ(values(got), values(want)) << at;
          EXPECT_EQ(got_labels, want_labels) << at;
        }
}

// ---- augmentation policies (Note [augmentation policies])

// The kernel against the CPU reference over the batch at args for `policy`.
void expect_policy_kernel_matches(const std::vector<uint8_t>& pixels, const Shape& images,
                                  const std::vector<int32_t>& order, const BatchArgs& args,
                                  const BatchAugment& aug, const PolicySource& policy, int64_t n,
                                  const std::string& at) {
  const int64_t c = images[1], h = images[2], w = images[3];
  Context ctx(Device::CPU);
  std::vector<uint8_t> want(static_cast<size_t>(n * c * h * w)), got(want.size(), 0xcd);
  ops::augment_policy(ctx, Tensor(const_cast<uint8_t*>(pixels.data()), images),
                      Tensor(const_cast<int32_t*>(order.data()), Shape{images[0]}), &args, aug,
                      policy, Tensor(want.data(), Shape{n, c, h, w}));
  launch(dim3(static_cast<unsigned>(n)), dim3(kPolicyThreads), augment_policy_kernel, pixels.data(),
         order.data(), &args, aug, policy, got.data(), static_cast<int>(c), static_cast<int>(h),
         static_cast<int>(w));
  EXPECT_EQ(got, want) << at;
}

TEST(EmulatedKernels, AugmentPolicyMatchesTheCpuForEveryOpAndPolicy) {
  for (const Shape images : {Shape{5, 3, 9, 7}, Shape{3, 1, 6, 6}}) {
    const int64_t count = images[0], h = images[2], w = images[3];
    Rng rng(12);
    std::vector<uint8_t> pixels(static_cast<size_t>(images.numel()));
    for (uint8_t& p : pixels) p = static_cast<uint8_t>(rng.uniform(0.0f, 255.99f));
    std::vector<int32_t> order(static_cast<size_t>(count));
    for (int64_t i = 0; i < count; ++i) order[i] = static_cast<int32_t>((i * 2 + 1) % count);
    const BatchArgs args{1, 0x77ULL};
    const int64_t n = count - 1;
    // Each op alone (every draw of a one-op table), on the cropped and flipped images
    for (int op = 0; op < kPolicyOpCount; ++op) {
      const double magnitude = op == kPolicyPosterize ? 3.0 : op == kPolicySolarize ? 100.0 : 0.4;
      std::vector<PolicyOpParams> table(
          kPolicyOpCount * 2,
          make_policy_op(op, magnitude, static_cast<int>(h), static_cast<int>(w)));
      PolicySource s;
      s.kind = kRandAugment;
      s.num_ops = 1;
      s.bins = 1;
      s.ops = table.data();
      expect_policy_kernel_matches(pixels, images, order, args, BatchAugment{2, 1}, s, n,
                                   policy_op_name(op) + " on " + images.str());
    }
    // The three policies with their own tables; RandAugment chains two ops
    for (const int32_t kind : {kTrivialAugmentWide, kRandAugment, kAutoAugment}) {
      PolicyConfig config;
      config.kind = kind;
      const PolicyTable table = make_policy_table(config, static_cast<int>(h), static_cast<int>(w));
      PolicySource s = table.source;
      s.ops = table.ops.data();
      s.steps = table.steps.empty() ? nullptr : table.steps.data();
      expect_policy_kernel_matches(pixels, images, order, args, BatchAugment{1, 1}, s, n,
                                   config.describe() + " on " + images.str());
    }
  }
}

// ---- loss scaling

TEST(EmulatedKernels, UnscalingCountsNonFiniteGradientsAndTheScaleMovesLikeTheCpus) {
  const int64_t count = 3000;  // several blocks, each adding its count once
  Rng rng(8);
  std::vector<float> grads = uniform(rng, count, -1e4f, 1e4f);
  grads[17] = INFINITY;
  grads[1500] = NAN;
  grads[2999] = -INFINITY;
  const float scale = 1024.0f;
  Context ctx(Device::CPU);
  Staged want = stage(grads, Shape{count}), got = stage(grads, Shape{count});
  int32_t want_count = 0, got_count = 0;
  const Tensor want_count_t(&want_count, Shape{1});
  ops::unscale_gradients(ctx, &scale, want.t, &want_count_t);
  EXPECT_EQ(want_count, 3);
  launch(dim3(blocks_for(count)), kBlock, unscale_kernel, &scale, got.as<float>(), count,
         &got_count);
  EXPECT_EQ(got_count, want_count);
  const std::vector<float> a = values(got), b = values(want);
  for (int64_t i = 0; i < count; ++i)
    if (std::isfinite(b[i]))
      EXPECT_EQ(a[i], b[i]) << i;
    else
      EXPECT_FALSE(std::isfinite(a[i])) << i;

  // Growth after the interval, halving on a non-finite step, and the counts.
  for (const LossScaleState start :
       {LossScaleState{65536.0f, 0, 0, 0}, LossScaleState{65536.0f, 1, 0, 0},
        LossScaleState{2048.0f, 0, 4, 1}}) {
    LossScaleState cpu_state = start, emulated = start;
    ops::update_loss_scale(ctx, &cpu_state, 2);
    launch(dim3(1), dim3(1), update_loss_scale_kernel, &emulated, 2);
    EXPECT_EQ(emulated.scale, cpu_state.scale);
    EXPECT_EQ(emulated.good_steps, cpu_state.good_steps);
    EXPECT_EQ(emulated.found_inf, cpu_state.found_inf);
    EXPECT_EQ(emulated.skipped, cpu_state.skipped);
  }
}

// ---- conversion

TEST(EmulatedKernels, ConvertMatchesTheCpuBetweenDtypesAndLayouts) {
  const Shape s{3, 5, 4, 6};
  Rng rng(9);
  const std::vector<float> x = uniform(rng, s.numel(), -300.0f, 300.0f);
  const int64_t n = s.numel(), c = s[1], hw = s[2] * s[3];
  for (const DType from : {DType::F32, DType::BF16})
    for (const DType to : {DType::F32, DType::BF16, DType::F16})
      for (const bool from_nhwc : {false, true})
        for (const bool to_nhwc : {false, true}) {
          Context ctx(Device::CPU);
          Staged src = stage(x, s, from, from_nhwc);
          Staged want = stage(std::vector<float>(n), s, to, to_nhwc);
          ops::convert(ctx, src.t, want.t);
          Staged got = stage(std::vector<float>(n, NAN), s, to, to_nhwc);
          const auto run = [&](auto s_tag, auto d_tag) {  // as engine/fill_cuda.cu chooses
            using S = typename decltype(s_tag)::type;
            using D = typename decltype(d_tag)::type;
            if (from_nhwc == to_nhwc)
              launch(dim3(blocks_for(n)), kBlock, convert_kernel<S, D>, src.as<S>(), got.as<D>(),
                     n);
            else
              launch(dim3(blocks_for(n)), kBlock, convert_layout_kernel<S, D>, src.as<S>(),
                     got.as<D>(), n, c, hw, to_nhwc);
          };
          with_float_type(from, "test", [&](auto s_tag) {
            with_float_type(to, "test", [&](auto d_tag) { run(s_tag, d_tag); });
          });
          EXPECT_EQ(values(got), values(want))
              << dtype_name(from) << (from_nhwc ? " NHWC" : " NCHW") << " -> " << dtype_name(to)
              << (to_nhwc ? " NHWC" : " NCHW");
        }
}

// ---- the elementwise utilities (a residual connection's add and its backward's copy)

TEST(EmulatedKernels, FillAxpbyAddCopyAndCountMatchTheCpu) {
  const int64_t n = 2000;  // several blocks
  const Shape s{n};
  Rng rng(10);
  std::vector<float> a = uniform(rng, n, -3.0f, 3.0f);
  const std::vector<float> b = uniform(rng, n, -3.0f, 3.0f);
  a[5] = NAN;
  a[1999] = INFINITY;
  const dim3 grid(blocks_for(n));
  for (const DType dtype : {DType::F32, DType::BF16}) {
    Context ctx(Device::CPU);
    Staged at = stage(a, s, dtype), bt = stage(b, s, dtype);
    Staged sum = stage(b, s, dtype), relu_sum = stage(b, s, dtype), y0 = stage(b, s, dtype),
           y1 = stage(b, s, dtype), acc = stage(b, s, dtype), filled = stage(b, s, dtype);
    int32_t count = 1;
    ops::add(ctx, at.t, bt.t, FusedActivation::kNone, sum.t);
    ops::add(ctx, at.t, bt.t, FusedActivation::kRelu, relu_sum.t);
    ops::copy_to_two(ctx, at.t, y0.t, y1.t);
    ops::axpby(ctx, 0.5f, at.t, -2.0f, acc.t);
    ops::fill(ctx, filled.t, 0.3f);
    ops::count_nonfinite(ctx, at.t, Tensor(&count, Shape{1}));

    const std::vector<float> nans(static_cast<size_t>(n), NAN);
    Staged got_sum = stage(nans, s, dtype), got_relu_sum = stage(nans, s, dtype),
           got_y0 = stage(nans, s, dtype), got_y1 = stage(nans, s, dtype),
           got_acc = stage(b, s, dtype), got_filled = stage(nans, s, dtype);
    int32_t got_count = 1;
    with_float_type(dtype, "test", [&](auto tag) {  // as engine/fill_cuda.cu launches
      using T = typename decltype(tag)::type;
      launch(grid, kBlock, add_kernel<T, false>, at.as<T>(), bt.as<T>(), got_sum.as<T>(), n);
      launch(grid, kBlock, add_kernel<T, true>, at.as<T>(), bt.as<T>(), got_relu_sum.as<T>(), n);
      launch(grid, kBlock, copy_to_two_kernel<T>, at.as<T>(), got_y0.as<T>(), got_y1.as<T>(), n);
      launch(grid, kBlock, axpby_kernel<T, T>, 0.5f, at.as<T>(), -2.0f, got_acc.as<T>(), n);
      launch(grid, kBlock, fill_kernel<T>, got_filled.as<T>(), n, 0.3f);
      launch(grid, kBlock, count_nonfinite_kernel<T>, at.as<T>(), n, &got_count);
    });
    // Bit for bit, NaN included (as bytes: NaN != NaN).
    const char* d = dtype_name(dtype);
    EXPECT_EQ(got_sum.bytes, sum.bytes) << d;
    EXPECT_EQ(got_relu_sum.bytes, relu_sum.bytes) << d;
    EXPECT_EQ(got_y0.bytes, y0.bytes) << d;
    EXPECT_EQ(got_y1.bytes, y1.bytes) << d;
    EXPECT_EQ(got_acc.bytes, acc.bytes) << d;
    EXPECT_EQ(got_filled.bytes, filled.bytes) << d;
    EXPECT_EQ(got_count, count) << d;
    EXPECT_EQ(count, 3) << d;
  }
}

}  // namespace
}  // namespace cnne
