// Mul's and PReLU's GPU kernels (layers/mul_kernels.cuh,
// layers/prelu_kernels.cuh) under the kernel emulation (Note [kernel
// emulation] in cuda/emulator.h), on the grids their .cu files launch them,
// against the CPU reference, F32 and BF16. Mul: gates over NCHW and
// channels-last maps (planes larger and smaller than a warp's 32 lanes, a
// batch of 1), (N, C) gates, two tensors of one shape. PReLU: a slope per
// channel in both layouts, one shared slope, (N, C) features, more elements
// per slope than a block's threads.
#define CNNE_EMULATED_KERNELS 1
#include "cuda/emulator.h"

#include <gtest/gtest.h>

#include <cmath>
#include <string>
#include <vector>

#include "cuda/launch.h"
#include "engine/context.h"
#include "engine/ops.h"
#include "engine/rng.h"
#include "layers/mul_kernels.cuh"
#include "layers/prelu_kernels.cuh"
#include "tests/emulated_test_util.h"

namespace cnne {
namespace {

using cnne_emu::launch;
using namespace cuda;  // the kernels, kThreads and blocks_for
using namespace emulated_test;

struct MulCase {
  Shape x, s;
};

struct MulResults {
  std::vector<float> y, dx, ds;
};

struct MulBuffers {
  MulBuffers(const MulCase& c, const std::vector<float>& x_in, const std::vector<float>& s_in,
             const std::vector<float>& dy_in, DType dtype, bool channels_last)
      : x(stage(x_in, c.x, dtype, channels_last)),
        s(stage(s_in, c.s, dtype, channels_last)),
        dy(stage(dy_in, c.x, dtype, channels_last)),
        y(stage(std::vector<float>(x_in.size(), NAN), c.x, dtype, channels_last)),
        dx(stage(std::vector<float>(x_in.size(), NAN), c.x, dtype, channels_last)),
        ds(stage(std::vector<float>(s_in.size(), NAN), c.s, dtype, channels_last)) {}
  MulResults results() const { return {values(y), values(dx), values(ds)}; }
  Staged x, s, dy, y, dx, ds;
};

template <class T>
MulResults emulated(MulBuffers& b) {
  const MulGeometry g = mul_geometry(b.x.t, b.s.t, "test");
  const dim3 grid(blocks_for(g.count)), threads(kThreads);
  launch(grid, threads, mul_kernel<T>, b.x.as<T>(), b.s.as<T>(), b.y.as<T>(), g);
  launch(grid, threads, mul_kernel<T>, b.dy.as<T>(), b.s.as<T>(), b.dx.as<T>(), g);
  if (!g.gate()) {
    launch(grid, threads, mul_kernel<T>, b.dy.as<T>(), b.x.as<T>(), b.ds.as<T>(), g);
  } else if (g.channels_last) {
    launch(dim3(static_cast<unsigned>((g.planes + kThreads - 1) / kThreads)), threads,
           mul_gate_grad_nhwc_kernel<T>, b.dy.as<T>(), b.x.as<T>(), b.ds.as<T>(), g);
  } else {
    const int64_t warps = kThreads / 32;
    launch(dim3(static_cast<unsigned>((g.planes + warps - 1) / warps)), threads,
           mul_gate_grad_kernel<T>, b.dy.as<T>(), b.x.as<T>(), b.ds.as<T>(), g);
  }
  return b.results();
}

const MulCase kCases[] = {
    {Shape{2, 3, 4, 5}, Shape{2, 3, 1, 1}},    // planes under a warp
    {Shape{1, 5, 9, 7}, Shape{1, 5}},          // 63 values a plane, a batch of 1, an (N, C) gate
    {Shape{3, 40, 2, 2}, Shape{3, 40, 1, 1}},  // more planes than a block's warps
    {Shape{2, 4, 3, 3}, Shape{2, 4, 3, 3}},    // one shape
    {Shape{5, 6}, Shape{5, 6}},                // (N, F)
};

TEST(EmulatedKernels, MulMatchesTheCpuInBothLayouts) {
  for (const MulCase& c : kCases)
    for (const DType dtype : {DType::F32, DType::BF16})
      for (const bool channels_last : {false, true}) {
        Rng rng(static_cast<uint64_t>(c.x.numel() + c.s.numel()));
        const std::vector<float> x = uniform(rng, c.x.numel(), -2.0f, 2.0f),
                                 s = uniform(rng, c.s.numel(), 0.0f, 1.0f),
                                 dy = uniform(rng, c.x.numel(), -1.0f, 1.0f);
        Context ctx(Device::CPU);
        MulBuffers want_buffers(c, x, s, dy, dtype, false);
        ops::mul_forward(ctx, want_buffers.x.t, want_buffers.s.t, want_buffers.y.t);
        ops::mul_backward(ctx, want_buffers.x.t, want_buffers.s.t, want_buffers.dy.t,
                          &want_buffers.dx.t, &want_buffers.ds.t);
        const MulResults want = want_buffers.results();
        MulBuffers b(c, x, s, dy, dtype, channels_last);
        const MulResults got =
            dtype == DType::BF16 ? emulated<__nv_bfloat16>(b) : emulated<float>(b);
        const std::string at = c.x.str() + " * " + c.s.str() + " " + dtype_name(dtype) +
                               (channels_last ? " channels-last" : " NCHW");
        EXPECT_EQ(got.y, want.y) << at;  // one float product, rounded once
        EXPECT_EQ(got.dx, want.dx) << at;
        // a gate's sum of exact double products in another order: the same float
        // but for a last-bit tie, then rounded to 16 bits
        EXPECT_LT(max_relative(got.ds, want.ds), dtype == DType::BF16 ? 8e-3 : 1e-6) << at;
      }
}

struct PreluResults {
  std::vector<float> y, dx, dweight;
};

struct PreluBuffers {
  PreluBuffers(const Shape& in, const std::vector<float>& x_in, const std::vector<float>& w_in,
               const std::vector<float>& dy_in, DType dtype, bool channels_last)
      : x(stage(x_in, in, dtype, channels_last)),
        dy(stage(dy_in, in, dtype, channels_last)),
        y(stage(std::vector<float>(x_in.size(), NAN), in, dtype, channels_last)),
        dx(stage(std::vector<float>(x_in.size(), NAN), in, dtype, channels_last)),
        weight(stage(w_in, Shape{static_cast<int64_t>(w_in.size())})),
        dweight(stage(std::vector<float>(w_in.size(), NAN),
                      Shape{static_cast<int64_t>(w_in.size())})) {}
  PreluResults results() const { return {values(y), values(dx), values(dweight)}; }
  Staged x, dy, y, dx, weight, dweight;
};

template <class T>
PreluResults emulated(PreluBuffers& b) {
  const PreluGeometry g = prelu_geometry(b.x.t, b.weight.t, "test");
  const dim3 grid(blocks_for(g.count)), threads(kThreads);
  const float* w = b.weight.as<float>();
  launch(grid, threads, prelu_kernel<T>, b.x.as<T>(), b.x.as<T>(), w, b.y.as<T>(), g);
  launch(grid, threads, prelu_kernel<T>, b.x.as<T>(), b.dy.as<T>(), w, b.dx.as<T>(), g);
  launch(dim3(static_cast<unsigned>(g.weights)), dim3(kPreluThreads), prelu_weight_grad_kernel<T>,
         b.x.as<T>(), b.dy.as<T>(), b.dweight.as<float>(), g);
  return b.results();
}

TEST(EmulatedKernels, PReLUMatchesTheCpuInBothLayouts) {
  const std::pair<Shape, int64_t> cases[] = {{Shape{2, 3, 4, 5}, 3},
                                             {Shape{2, 3, 4, 5}, 1},
                                             {Shape{4, 6}, 6},
                                             {Shape{3, 2, 11, 13}, 2}};  // 429 a slope
  for (const auto& [in, slopes] : cases)
    for (const DType dtype : {DType::F32, DType::BF16})
      for (const bool channels_last : {false, true}) {
        Rng rng(static_cast<uint64_t>(in.numel() + slopes));
        std::vector<float> x = uniform(rng, in.numel(), -2.0f, 2.0f);
        x[0] = 0.0f;
        const std::vector<float> w = uniform(rng, slopes, -0.5f, 0.8f),
                                 dy = uniform(rng, in.numel(), -1.0f, 1.0f);
        Context ctx(Device::CPU);
        PreluBuffers want_buffers(in, x, w, dy, dtype, false);
        ops::prelu_forward(ctx, want_buffers.x.t, want_buffers.weight.t, want_buffers.y.t);
        ops::prelu_backward(ctx, want_buffers.x.t, want_buffers.weight.t, want_buffers.dy.t,
                            &want_buffers.dx.t, want_buffers.dweight.t);
        const PreluResults want = want_buffers.results();
        PreluBuffers b(in, x, w, dy, dtype, channels_last);
        const PreluResults got =
            dtype == DType::BF16 ? emulated<__nv_bfloat16>(b) : emulated<float>(b);
        const std::string at = in.str() + " slopes " + std::to_string(slopes) + " " +
                               dtype_name(dtype) + (channels_last ? " channels-last" : " NCHW");
        EXPECT_EQ(got.y, want.y) << at;  // one product, rounded once
        EXPECT_EQ(got.dx, want.dx) << at;
        // the sum of exact double products in another order, rounded to float
        EXPECT_LT(max_relative(got.dweight, want.dweight), 1e-6) << at;
      }
}

}  // namespace
}  // namespace cnne
