// Our own GPU kernels, run on CPU threads by the kernel emulation (Note
// [kernel emulation] in cuda/emulator.h), against the CPU reference: batch
// norm and global average pooling (both layouts, F32 and BF16) and max-pool
// backward. They are launched
// as their .cu files launch them (the same grids and kernel order); what runs
// is the kernels' own code, with real barriers and warp shuffles, so these
// tests check their indexing, splits, barriers and arithmetic on every
// machine, before a GPU run does.
#define CNNE_EMULATED_KERNELS 1
#include "cuda/emulator.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <string>
#include <vector>

#include "cuda/launch.h"
#include "engine/context.h"
#include "engine/half.h"
#include "engine/ops.h"
#include "engine/rng.h"
#include "layers/batchnorm_kernels.cuh"
#include "layers/global_avgpool_kernels.cuh"
#include "layers/maxpool_backward_kernels.cuh"
#include "tests/emulated_test_util.h"

namespace cnne {
namespace {

using cnne_emu::launch;
using namespace emulated_test;
using namespace cuda;  // the kernels, their constants and blocks_for

// ---- batch norm

struct BatchNormInputs {
  Shape shape;
  std::vector<float> x, dy, gamma, beta;
};

struct BatchNormResults {
  std::vector<float> y, y_relu, dx, dgamma, dbeta, save_mean, save_invstd, running_mean,
      running_var, inference;
};

constexpr float kMomentum = 0.1f, kEps = 1e-5f;

// Batch norm's tensors, staged in `dtype` and the layout asked; the
// statistics (C) in F32. The ReLU forward updates its own running statistics
// (relu_mean, relu_var), so that both forwards start from the same ones.
struct BatchNormBuffers {
  BatchNormBuffers(const BatchNormInputs& in, DType dtype, bool channels_last)
      : x(stage(in.x, in.shape, dtype, channels_last)),
        dy(stage(in.dy, in.shape, dtype, channels_last)),
        y(stage(in.x, in.shape, dtype, channels_last)),
        dx(stage(in.x, in.shape, dtype, channels_last)),
        gamma(stage(in.gamma, Shape{in.shape[1]})),
        beta(stage(in.beta, Shape{in.shape[1]})),
        running_mean(channel_values(in, 0.0f)),
        running_var(channel_values(in, 1.0f)),
        relu_mean(channel_values(in, 0.0f)),
        relu_var(channel_values(in, 1.0f)),
        save_mean(channel_values(in, 0.0f)),
        save_invstd(channel_values(in, 0.0f)),
        dgamma(channel_values(in, 0.0f)),
        dbeta(channel_values(in, 0.0f)) {}

  static Staged channel_values(const BatchNormInputs& in, float v) {
    return stage(std::vector<float>(static_cast<size_t>(in.shape[1]), v), Shape{in.shape[1]});
  }
  // What the backward and the statistics left, into r.
  void collect(BatchNormResults& r) const {
    r.dx = values(dx);
    r.dgamma = values(dgamma);
    r.dbeta = values(dbeta);
    r.save_mean = values(save_mean);
    r.save_invstd = values(save_invstd);
    r.running_mean = values(running_mean);
    r.running_var = values(running_var);
  }

  Staged x, dy, y, dx, gamma, beta, running_mean, running_var, relu_mean, relu_var, save_mean,
      save_invstd, dgamma, dbeta;
};

// The CPU reference (ops on a CPU context), in `dtype` (BF16: the CPU's
// mixed-precision emulation), NCHW.
BatchNormResults reference_batchnorm(const BatchNormInputs& in, DType dtype) {
  Context ctx(Device::CPU);
  BatchNormBuffers b(in, dtype, false);
  BatchNormResults r;
  ops::batchnorm_forward_training(ctx, b.x.t, b.gamma.t, b.beta.t, kMomentum, kEps, b.relu_mean.t,
                                  b.relu_var.t, b.save_mean.t, b.save_invstd.t,
                                  FusedActivation::kRelu, b.y.t);
  r.y_relu = values(b.y);
  ops::batchnorm_forward_training(ctx, b.x.t, b.gamma.t, b.beta.t, kMomentum, kEps,
                                  b.running_mean.t, b.running_var.t, b.save_mean.t, b.save_invstd.t,
                                  FusedActivation::kNone, b.y.t);
  r.y = values(b.y);
  ops::batchnorm_backward(ctx, b.x.t, b.dy.t, b.gamma.t, b.save_mean.t, b.save_invstd.t, kEps,
                          b.dx.t, b.dgamma.t, b.dbeta.t);
  b.collect(r);
  ops::batchnorm_forward_inference(ctx, b.x.t, b.gamma.t, b.beta.t, b.running_mean.t,
                                   b.running_var.t, kEps, FusedActivation::kRelu, b.y.t);
  r.inference = values(b.y);
  return r;
}

// The kernels, in the order and on the grids of layers/batchnorm_cuda.cu.
template <class Walk, class T>
BatchNormResults emulated_batchnorm(const BatchNormInputs& in, DType dtype, bool channels_last) {
  const Shape& s = in.shape;
  const BnDims d{static_cast<uint32_t>(s[1]), static_cast<uint32_t>(s[2] * s[3]),
                 static_cast<uint32_t>(s[0] * s[2] * s[3]),
                 batchnorm_splits(s[0], s[1], s[2] * s[3], channels_last)};
  EXPECT_LE(size_t(d.c) * d.splits * 2 * sizeof(double), batchnorm_partial_bytes(s));
  std::vector<double> partial(size_t(d.c) * d.splits * 2, NAN);  // (C, splits, 2)
  BatchNormBuffers b(in, dtype, channels_last);
  const float *gamma = b.gamma.as<float>(), *beta = b.beta.as<float>();
  float *mean = b.save_mean.as<float>(), *invstd = b.save_invstd.as<float>();
  const dim3 grid = Walk::grid(d), block(kBnThreads);
  BatchNormResults r;
  auto forward = [&](auto kernel, Staged& running_mean, Staged& running_var) {
    launch(grid, block, bn_stats_kernel<Walk, T>, b.x.as<T>(), partial.data(), d);
    launch(grid, block, kernel, b.x.as<T>(), b.y.as<T>(), partial.data(), gamma, beta,
           running_mean.as<float>(), running_var.as<float>(), mean, invstd, kMomentum, kEps, d);
  };
  forward(bn_forward_kernel<Walk, T, true>, b.relu_mean, b.relu_var);
  r.y_relu = values(b.y);
  forward(bn_forward_kernel<Walk, T, false>, b.running_mean, b.running_var);
  r.y = values(b.y);
  launch(grid, block, bn_backward_sums_kernel<Walk, T>, b.x.as<T>(), b.dy.as<T>(), mean, invstd,
         partial.data(), d);
  launch(grid, block, bn_backward_kernel<Walk, T>, b.x.as<T>(), b.dy.as<T>(), b.dx.as<T>(), gamma,
         mean, invstd, partial.data(), b.dgamma.as<float>(), b.dbeta.as<float>(), d);
  b.collect(r);
  launch(grid, block, bn_inference_kernel<Walk, T, true>, b.x.as<T>(), b.y.as<T>(), gamma, beta,
         b.running_mean.as<float>(), b.running_var.as<float>(), kEps, d);
  r.inference = values(b.y);
  return r;
}

BatchNormResults emulated_batchnorm(const BatchNormInputs& in, DType dtype, bool channels_last) {
  const bool nhwc = channels_last && in.shape[2] * in.shape[3] > 1;  // the layer's rule
  if (dtype == DType::BF16)
    return nhwc ? emulated_batchnorm<NhwcWalk, __nv_bfloat16>(in, dtype, true)
                : emulated_batchnorm<NchwWalk, __nv_bfloat16>(in, dtype, false);
  return nhwc ? emulated_batchnorm<NhwcWalk, float>(in, dtype, true)
              : emulated_batchnorm<NchwWalk, float>(in, dtype, false);
}

// Shapes with one split and several (batchnorm_splits: (5, 3, 30, 30) takes 2
// per channel in NCHW; (3, 40, 10, 10) 3 in NHWC, with a tile of 32 channels
// and one of 8), batch 1, odd planes, a 1x1 plane.
const Shape kBatchNormShapes[] = {Shape{4, 3, 5, 7},  Shape{5, 3, 30, 30}, Shape{3, 40, 10, 10},
                                  Shape{1, 40, 4, 4}, Shape{2, 64, 9, 3},  Shape{6, 5, 1, 1}};

TEST(EmulatedKernels, BatchNormMatchesTheCpuInBothLayouts) {
  for (const Shape& s : kBatchNormShapes)
    for (const DType dtype : {DType::F32, DType::BF16})
      for (const bool channels_last : {false, true}) {
        // NCHW takes a block per channel: more channels add blocks (time), not cases.
        if (!channels_last && s[1] > 8) continue;
        Rng rng(static_cast<uint64_t>(s.numel()));
        const BatchNormInputs in{s, uniform(rng, s.numel(), -2.0f, 3.0f),
                                 uniform(rng, s.numel(), -1.0f, 1.0f),
                                 uniform(rng, s[1], 0.5f, 1.5f), uniform(rng, s[1], -0.5f, 0.5f)};
        const BatchNormResults want = reference_batchnorm(in, dtype);
        const BatchNormResults got = emulated_batchnorm(in, dtype, channels_last);
        const std::string at = s.str() + " " + std::string(dtype_name(dtype)) +
                               (channels_last ? " channels-last" : " NCHW");
        // F32: the GPU test's bounds (statistics merged per split, in double).
        // BF16: outputs are rounded to 8 bits, so a sum that differs in its
        // last float bit may round to the neighbouring bf16 value.
        const double out = dtype == DType::BF16 ? 8e-3 : 1e-5;
        const double grad = dtype == DType::BF16 ? 8e-3 : 1e-4;
        EXPECT_LT(max_relative(got.y, want.y), out) << at;
        EXPECT_LT(max_relative(got.y_relu, want.y_relu), out) << at;
        EXPECT_LT(max_relative(got.dx, want.dx), grad) << at;
        EXPECT_LT(max_relative(got.dgamma, want.dgamma), 1e-5) << at;
        EXPECT_LT(max_relative(got.dbeta, want.dbeta), 1e-5) << at;
        EXPECT_LT(max_relative(got.save_mean, want.save_mean), 1e-5) << at;
        EXPECT_LT(max_relative(got.save_invstd, want.save_invstd), 1e-5) << at;
        EXPECT_LT(max_relative(got.running_mean, want.running_mean), 1e-5) << at;
        EXPECT_LT(max_relative(got.running_var, want.running_var), 1e-5) << at;
        EXPECT_LT(max_relative(got.inference, want.inference), out) << at;
      }
}

// ---- max-pool backward

struct PoolCase {
  Shape x;
  Pool2dParams p;
};

TEST(EmulatedKernels, MaxPoolBackwardMatchesTheCpuWithTies) {
  const PoolCase cases[] = {
      {Shape{2, 3, 8, 8}, Pool2dParams{2, 2, 2, 2, 0, 0}},   // tiling (the tutorial's)
      {Shape{2, 3, 7, 9}, Pool2dParams{3, 3, 2, 2, 1, 1}},   // overlapping, padded
      {Shape{1, 2, 5, 6}, Pool2dParams{3, 2, 1, 1, 1, 0}},   // stride 1, uneven window
      {Shape{3, 4, 11, 10}, Pool2dParams{2, 3, 3, 2, 0, 1}}  // gaps between windows
  };
  for (const PoolCase& c : cases)
    for (const DType dtype : {DType::F32, DType::BF16}) {
      const Pool2dParams& p = c.p;
      const int64_t ph = (c.x[2] + 2 * p.pad_h - p.kernel_h) / p.stride_h + 1;
      const int64_t pw = (c.x[3] + 2 * p.pad_w - p.kernel_w) / p.stride_w + 1;
      const Shape ys{c.x[0], c.x[1], ph, pw};
      Rng rng(static_cast<uint64_t>(c.x.numel()));
      std::vector<float> x = uniform(rng, c.x.numel(), 0.0f, 4.0f);
      for (float& v : x) v = std::floor(v);  // four levels: many tied maxima
      const std::vector<float> dy = uniform(rng, ys.numel(), -1.0f, 1.0f);

      Context ctx(Device::CPU);
      Staged xt = stage(x, c.x, dtype), yt = stage(std::vector<float>(ys.numel()), ys, dtype),
             dyt = stage(dy, ys, dtype), dxt = stage(x, c.x, dtype);
      ops::maxpool2d_forward(ctx, p, xt.t, yt.t);
      ops::maxpool2d_backward(ctx, p, xt.t, yt.t, dyt.t, dxt.t);
      const std::vector<float> want = values(dxt);

      Staged got = stage(std::vector<float>(x.size(), NAN), c.x, dtype);
      const auto i = [](int64_t v) { return static_cast<int>(v); };
      const PoolGeometry g{i(c.x[2]),  i(c.x[3]),  i(ph),      i(pw),   p.kernel_h,
                           p.kernel_w, p.stride_h, p.stride_w, p.pad_h, p.pad_w};
      const int64_t planes = c.x[0] * c.x[1];
      with_float_type(dtype, "test", [&](auto tag) {  // as layers/maxpool_backward_cuda.cu
        using T = typename decltype(tag)::type;
        launch(dim3(blocks_for(planes * g.h * g.w)), dim3(kThreads), maxpool_backward_kernel<T>,
               xt.as<T>(), dyt.as<T>(), got.as<T>(), planes, g);
      });
      EXPECT_EQ(values(got), want) << c.x.str() << " " << dtype_name(dtype);
    }
}

// ---- global average pooling

TEST(EmulatedKernels, GlobalAvgPoolMatchesTheCpuInBothLayouts) {
  for (const Shape& s : {Shape{3, 5, 4, 7}, Shape{2, 40, 3, 3}, Shape{1, 300, 2, 2}})
    for (const DType dtype : {DType::F32, DType::BF16})
      for (const bool channels_last : {false, true}) {
        Rng rng(static_cast<uint64_t>(s.numel()));
        const Shape ps{s[0], s[1], 1, 1};
        const std::vector<float> x = uniform(rng, s.numel(), -2.0f, 3.0f);
        const std::vector<float> dy = uniform(rng, ps.numel(), -1.0f, 1.0f);
        Context ctx(Device::CPU);
        Staged xt = stage(x, s, dtype), yt = stage(dy, ps, dtype), dyt = stage(dy, ps, dtype),
               dxt = stage(x, s, dtype);
        ops::global_avgpool_forward(ctx, xt.t, yt.t);
        ops::global_avgpool_backward(ctx, dyt.t, dxt.t);

        const int64_t planes = s[0] * s[1], area = s[2] * s[3];
        Staged xe = stage(x, s, dtype, channels_last), ye = stage(dy, ps, dtype),
               dxe = stage(x, s, dtype, channels_last);
        const auto run = [&](auto tag) {  // the grids of layers/global_avgpool_cuda.cu
          using T = typename decltype(tag)::type;
          if (channels_last) {
            launch(dim3(static_cast<unsigned>((planes + kThreads - 1) / kThreads)), dim3(kThreads),
                   global_avgpool_nhwc_kernel<T>, xe.as<T>(), ye.as<T>(), planes, s[1], area);
            launch(dim3(blocks_for(planes * area)), dim3(kThreads),
                   global_avgpool_backward_nhwc_kernel<T>, dyt.as<T>(), dxe.as<T>(), planes, s[1],
                   area);
          } else {
            const int64_t warps = kThreads / 32;
            launch(dim3(static_cast<unsigned>((planes + warps - 1) / warps)), dim3(kThreads),
                   global_avgpool_kernel<T>, xe.as<T>(), ye.as<T>(), planes, area);
            launch(dim3(blocks_for(planes * area)), dim3(kThreads),
                   global_avgpool_backward_kernel<T>, dyt.as<T>(), dxe.as<T>(), planes, area);
          }
        };
        with_float_type(dtype, "test", run);
        const std::string at = s.str() + " " + std::string(dtype_name(dtype)) +
                               (channels_last ? " channels-last" : " NCHW");
        EXPECT_LT(max_relative(values(ye), values(yt)), 1e-6) << at;
        EXPECT_EQ(values(dxe), values(dxt)) << at;
      }
}

}  // namespace
}  // namespace cnne
