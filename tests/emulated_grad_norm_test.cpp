// Gradient clipping's GPU kernels (engine/grad_norm_kernels.cuh), run on CPU
// threads by the kernel emulation (Note [kernel emulation] in
// cuda/emulator.h) on the grids of engine/grad_norm_cuda.cu, against the CPU
// reference: the norm over several ranges, the coefficient PyTorch computes,
// the partials left at zero, the same bits on every run, NaN kept.
#define CNNE_EMULATED_KERNELS 1
#include "cuda/emulator.h"

#include <gtest/gtest.h>

#include <cmath>
#include <cstring>
#include <vector>

#include "engine/context.h"
#include "engine/grad_norm_kernels.cuh"
#include "engine/ops.h"
#include "engine/rng.h"
#include "tests/emulated_test_util.h"

namespace cnne {
namespace {

using cnne_emu::launch;
using namespace cuda;
using namespace emulated_test;

struct Clipped {
  std::vector<float> grads, partials, norm_coef;
};

// As engine/gradient_clipper.cpp clips, with the emulated kernels.
Clipped clip_emulated(std::vector<float> grads,
                      const std::vector<std::pair<int64_t, int64_t>>& ranges, float max_norm) {
  Clipped c{std::move(grads), std::vector<float>(kNormPartials, 0.0f), {-1.0f, -1.0f}};
  for (const auto& [begin, end] : ranges)
    launch(dim3(sum_squares_blocks(end - begin)), dim3(kNormThreads), sum_squares_kernel,
           c.grads.data() + begin, end - begin, c.partials.data());
  launch(dim3(1), dim3(kNormThreads), clip_coefficient_kernel, c.partials.data(), max_norm,
         c.norm_coef.data());
  for (const auto& [begin, end] : ranges)
    launch(dim3(blocks_for(end - begin)), dim3(kThreads), scale_by_kernel, c.norm_coef.data() + 1,
           c.grads.data() + begin, end - begin);
  return c;
}

// The CPU reference through ops::, on the same ranges.
Clipped clip_on_cpu(std::vector<float> grads,
                    const std::vector<std::pair<int64_t, int64_t>>& ranges, float max_norm) {
  Context ctx(Device::CPU);
  Clipped c{std::move(grads), std::vector<float>(kNormPartials, 0.0f), {-1.0f, -1.0f}};
  const Tensor g(c.grads.data(), Shape{static_cast<int64_t>(c.grads.size())});
  const Tensor partials(c.partials.data(), Shape{kNormPartials});
  const Tensor norm_coef(c.norm_coef.data(), Shape{2});
  for (const auto& [begin, end] : ranges) ops::sum_squares(ctx, g.slice(begin, end), partials);
  ops::clip_coefficient(ctx, partials, max_norm, norm_coef);
  for (const auto& [begin, end] : ranges)
    ops::scale_by(ctx, c.norm_coef.data() + 1, g.slice(begin, end));
  return c;
}

TEST(EmulatedKernels, GradientClippingMatchesTheCpuOverRanges) {
  Rng rng(21);
  // 70,000 elements: the first range fills every partial slot and wraps.
  const std::vector<float> grads = uniform(rng, 70000, -0.01f, 0.01f);
  const std::vector<std::pair<int64_t, int64_t>> ranges{{0, 69000}, {69000, 69001}, {69500, 70000}};
  for (const float max_norm : {0.1f, 1000.0f}) {  // clips; does not
    const Clipped gpu = clip_emulated(grads, ranges, max_norm);
    const Clipped cpu = clip_on_cpu(grads, ranges, max_norm);
    EXPECT_NEAR(gpu.norm_coef[0], cpu.norm_coef[0], 2e-6 * cpu.norm_coef[0]) << max_norm;
    EXPECT_NEAR(gpu.norm_coef[1], cpu.norm_coef[1], 2e-6 * cpu.norm_coef[1]) << max_norm;
    EXPECT_EQ(gpu.partials, std::vector<float>(kNormPartials, 0.0f));  // ready for the next step
    EXPECT_EQ(cpu.partials, std::vector<float>(kNormPartials, 0.0f));
    if (max_norm > 1.0f) {
      EXPECT_EQ(gpu.norm_coef[1], 1.0f);
      EXPECT_EQ(gpu.grads, grads);  // times 1: unchanged
    } else {
      EXPECT_LT(gpu.norm_coef[1], 1.0f);
      EXPECT_LT(max_relative(gpu.grads, cpu.grads), 1e-5);
      EXPECT_EQ(gpu.grads[69200], grads[69200]);  // outside every range: untouched
      EXPECT_NE(gpu.grads[100], grads[100]);
    }
    // A fixed reduction tree: the same bits every time.
    const Clipped again = clip_emulated(grads, ranges, max_norm);
    EXPECT_EQ(again.grads, gpu.grads);
    EXPECT_EQ(std::memcmp(again.norm_coef.data(), gpu.norm_coef.data(), 8), 0);
  }
}

TEST(EmulatedKernels, GradientClippingSmallSizesAndNaN) {
  for (const int64_t n : {int64_t{1}, int64_t{255}, int64_t{257}}) {
    std::vector<float> grads(static_cast<size_t>(n), 0.5f);
    const Clipped gpu = clip_emulated(grads, {{0, n}}, 1.0f);
    const float norm = std::sqrt(0.25f * static_cast<float>(n));
    EXPECT_NEAR(gpu.norm_coef[0], norm, 1e-6 * norm) << n;
    EXPECT_FLOAT_EQ(gpu.norm_coef[1], std::min(1.0f, 1.0f / (norm + 1e-6f))) << n;
  }
  std::vector<float> grads(300, 0.5f);
  grads[7] = NAN;
  const Clipped gpu = clip_emulated(grads, {{0, 300}}, 1.0f);
  const Clipped cpu = clip_on_cpu(grads, {{0, 300}}, 1.0f);
  EXPECT_TRUE(std::isnan(gpu.norm_coef[1]));  // NaN stays NaN (torch.clamp), no silent 1
  EXPECT_TRUE(std::isnan(cpu.norm_coef[1]));
  EXPECT_TRUE(std::isnan(gpu.grads[0]));
}

}  // namespace
}  // namespace cnne
