// GroupNorm's GPU kernels (layers/groupnorm_kernels.cuh), run on CPU threads
// by the kernel emulation (Note [kernel emulation] in cuda/emulator.h) on the
// grids and in the order layers/groupnorm_cuda.cu launches them, against the
// CPU reference: both layouts, F32 and BF16, with and without the affine
// parameters, with the fused ReLU.
#define CNNE_EMULATED_KERNELS 1
#include "cuda/emulator.h"

#include <gtest/gtest.h>

#include <cmath>
#include <string>
#include <vector>

#include "engine/context.h"
#include "engine/ops.h"
#include "engine/rng.h"
#include "layers/groupnorm_kernels.cuh"
#include "tests/emulated_test_util.h"

namespace cnne {
namespace {

using cnne_emu::launch;
using namespace emulated_test;
using namespace cuda;  // the kernels and their constants

constexpr float kEps = 1e-5f;

struct GroupNormCase {
  Shape shape;
  int64_t groups;
};

struct GroupNormInputs {
  GroupNormCase c;
  std::vector<float> x, dy, gamma, beta;
};

struct GroupNormResults {
  std::vector<float> y, y_relu, dx, dgamma, dbeta, mean, rstd;
};

// The tensors of one run, x, y, dy, dx in `dtype` and the layout asked;
// gamma, beta, their gradients and the statistics (N, groups) in F32.
struct GroupNormBuffers {
  GroupNormBuffers(const GroupNormInputs& in, DType dtype, bool channels_last)
      : x(stage(in.x, in.c.shape, dtype, channels_last)),
        dy(stage(in.dy, in.c.shape, dtype, channels_last)),
        y(stage(in.x, in.c.shape, dtype, channels_last)),
        dx(stage(in.x, in.c.shape, dtype, channels_last)),
        gamma(stage(in.gamma, Shape{in.c.shape[1]})),
        beta(stage(in.beta, Shape{in.c.shape[1]})),
        dgamma(stage(std::vector<float>(in.gamma.size(), NAN), Shape{in.c.shape[1]})),
        dbeta(stage(std::vector<float>(in.gamma.size(), NAN), Shape{in.c.shape[1]})),
        mean(statistics(in)),
        rstd(statistics(in)) {}

  static Staged statistics(const GroupNormInputs& in) {
    const Shape s{in.c.shape[0], in.c.groups};
    return stage(std::vector<float>(static_cast<size_t>(s.numel()), NAN), s);
  }
  void collect(GroupNormResults& r, bool affine) const {
    r.dx = values(dx);
    if (affine) {
      r.dgamma = values(dgamma);
      r.dbeta = values(dbeta);
    }
    r.mean = values(mean);
    r.rstd = values(rstd);
  }

  Staged x, dy, y, dx, gamma, beta, dgamma, dbeta, mean, rstd;
};

GroupNormResults reference(const GroupNormInputs& in, DType dtype, bool affine) {
  Context ctx(Device::CPU);
  GroupNormBuffers b(in, dtype, false);
  const Tensor *gamma = affine ? &b.gamma.t : nullptr, *beta = affine ? &b.beta.t : nullptr;
  GroupNormResults r;
  ops::groupnorm_forward(ctx, in.c.groups, kEps, b.x.t, gamma, beta, b.mean.t, b.rstd.t,
                         FusedActivation::kRelu, b.y.t);
  r.y_relu = values(b.y);
  ops::groupnorm_forward(ctx, in.c.groups, kEps, b.x.t, gamma, beta, b.mean.t, b.rstd.t,
                         FusedActivation::kNone, b.y.t);
  r.y = values(b.y);
  ops::groupnorm_backward(ctx, in.c.groups, b.x.t, b.dy.t, gamma, b.mean.t, b.rstd.t, b.dx.t,
                          affine ? &b.dgamma.t : nullptr, affine ? &b.dbeta.t : nullptr);
  b.collect(r, affine);
  return r;
}

// The kernels, on the grids of layers/groupnorm_cuda.cu.
template <bool kNhwc, class T>
GroupNormResults emulated(const GroupNormInputs& in, DType dtype, bool affine) {
  const Shape& s = in.c.shape;
  const GroupNormDims d{static_cast<uint32_t>(s[1]), static_cast<uint32_t>(in.c.groups),
                        static_cast<uint32_t>(s[1] / in.c.groups),
                        static_cast<uint32_t>(s[2] * s[3])};
  GroupNormBuffers b(in, dtype, kNhwc);
  const float *gamma = affine ? b.gamma.as<float>() : nullptr,
              *beta = affine ? b.beta.as<float>() : nullptr;
  float *mean = b.mean.as<float>(), *rstd = b.rstd.as<float>();
  const dim3 blocks(static_cast<unsigned>(s[0] * in.c.groups)), threads(kGnThreads);
  GroupNormResults r;
  launch(blocks, threads, gn_forward_kernel<kNhwc, T, true>, b.x.as<T>(), b.y.as<T>(), gamma, beta,
         mean, rstd, kEps, d);
  r.y_relu = values(b.y);
  launch(blocks, threads, gn_forward_kernel<kNhwc, T, false>, b.x.as<T>(), b.y.as<T>(), gamma, beta,
         mean, rstd, kEps, d);
  r.y = values(b.y);
  launch(blocks, threads, gn_backward_dx_kernel<kNhwc, T>, b.x.as<T>(), b.dy.as<T>(), b.dx.as<T>(),
         gamma, mean, rstd, d);
  if (affine) {
    const BnDims per_channel{d.c, d.hw, static_cast<uint32_t>(s[0]) * d.hw, 1};
    using Walk = std::conditional_t<kNhwc, NhwcWalk, NchwWalk>;
    launch(Walk::grid(per_channel), dim3(kBnThreads), gn_param_grads_kernel<Walk, T>, b.x.as<T>(),
           b.dy.as<T>(), mean, rstd, b.dgamma.as<float>(), b.dbeta.as<float>(), per_channel,
           d.groups, d.per_group);
  }
  b.collect(r, affine);
  return r;
}

GroupNormResults emulated(const GroupNormInputs& in, DType dtype, bool channels_last, bool affine) {
  const bool nhwc = channels_last && in.c.shape[2] * in.c.shape[3] > 1;  // stage()'s rule
  if (dtype == DType::BF16)
    return nhwc ? emulated<true, __nv_bfloat16>(in, dtype, affine)
                : emulated<false, __nv_bfloat16>(in, dtype, affine);
  return nhwc ? emulated<true, float>(in, dtype, affine)
              : emulated<false, float>(in, dtype, affine);
}

// Groups of 2 channels, one group (LayerNorm-like), one channel per group
// (InstanceNorm), groups larger than a block's 256 threads, odd planes, 1x1
// maps, a batch of 1, channels-last tiles of 32 channels and one of 8.
const GroupNormCase kCases[] = {{Shape{3, 6, 5, 4}, 2}, {Shape{2, 4, 9, 9}, 1},
                                {Shape{2, 5, 3, 7}, 5}, {Shape{1, 40, 4, 4}, 8},
                                {Shape{4, 8, 1, 1}, 2}, {Shape{2, 36, 6, 5}, 3}};

TEST(EmulatedKernels, GroupNormMatchesTheCpuInBothLayouts) {
  for (const GroupNormCase& c : kCases)
    for (const DType dtype : {DType::F32, DType::BF16})
      for (const bool channels_last : {false, true})
        for (const bool affine : {true, false}) {
          Rng rng(static_cast<uint64_t>(c.shape.numel() + c.groups));
          const GroupNormInputs in{c, uniform(rng, c.shape.numel(), -2.0f, 3.0f),
                                   uniform(rng, c.shape.numel(), -1.0f, 1.0f),
                                   uniform(rng, c.shape[1], 0.5f, 1.5f),
                                   uniform(rng, c.shape[1], -0.5f, 0.5f)};
          const GroupNormResults want = reference(in, dtype, affine);
          const GroupNormResults got = emulated(in, dtype, channels_last, affine);
          const std::string at = c.shape.str() + " groups " + std::to_string(c.groups) + " " +
                                 dtype_name(dtype) + (channels_last ? " channels-last" : " NCHW") +
                                 (affine ? " affine" : "");
          // F32: the statistics in double by another order (one shifted pass
          // here, two passes there); BF16: outputs rounded to 8 bits, where a
          // last-bit difference in float may round to the neighbouring value.
          const double out = dtype == DType::BF16 ? 8e-3 : 1e-5;
          EXPECT_LT(max_relative(got.y, want.y), out) << at;
          EXPECT_LT(max_relative(got.y_relu, want.y_relu), out) << at;
          EXPECT_LT(max_relative(got.dx, want.dx), dtype == DType::BF16 ? 8e-3 : 1e-4) << at;
          EXPECT_LT(max_relative(got.mean, want.mean), 1e-6) << at;
          EXPECT_LT(max_relative(got.rstd, want.rstd), 1e-6) << at;
          if (affine) {
            EXPECT_LT(max_relative(got.dgamma, want.dgamma), 1e-5) << at;
            EXPECT_LT(max_relative(got.dbeta, want.dbeta), 1e-5) << at;
          }
        }
}

}  // namespace
}  // namespace cnne
