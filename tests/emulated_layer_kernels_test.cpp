// The rest of the layers' own GPU kernels under the kernel emulation (Note
// [kernel emulation] in cuda/emulator.h), against the CPU reference: softmax
// cross-entropy (one block reducing in shared memory) and argmax, the bias
// gradient (chunks of images per block, then a merge), the bias + ReLU
// epilogue, linear's bias broadcast, dropout and its backward multiply, the
// activations besides ReLU. F32 and BF16, on the grids
// of their .cu files.
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
#include "layers/activation_kernels.cuh"
#include "layers/bias_activation_kernels.cuh"
#include "layers/dropout_kernels.cuh"
#include "layers/linear_kernels.cuh"
#include "layers/softmax_cross_entropy_kernels.cuh"
#include "tests/emulated_test_util.h"

namespace cnne {
namespace {

using cnne_emu::launch;
using namespace cuda;  // the kernels, their constants and blocks_for
using namespace emulated_test;

TEST(EmulatedKernels, SoftmaxCrossEntropyAndArgmaxMatchTheCpu) {
  struct Case {
    int64_t n, k;
    float smoothing;
    bool scaled;
    float mix_lambda = 1.0f;  // < 1: a mixed batch's targets (Note [batch mixing])
  };
  // Fewer rows than threads, more rows than threads (each thread several), label smoothing,
  // the loss scale's gradient factor, mixed targets (the first label weighing more or less).
  for (const Case c :
       {Case{4, 10, 0.0f, false}, Case{300, 10, 0.1f, false}, Case{37, 7, 0.0f, true},
        Case{300, 10, 0.1f, false, 0.3f}, Case{37, 7, 0.0f, true, 0.75f}})
    for (const DType dtype : {DType::F32, DType::BF16}) {
      Rng rng(static_cast<uint64_t>(c.n * c.k));
      const Shape ls{c.n, c.k};
      const std::vector<float> logits = uniform(rng, ls.numel(), -4.0f, 4.0f);
      const bool mixed = c.mix_lambda < 1.0f;
      std::vector<int32_t> labels(mixed ? 2 * c.n : c.n);  // mixed: then the second labels
      for (size_t i = 0; i < labels.size(); ++i)
        labels[i] = static_cast<int32_t>((i * 7 + 3) % c.k);
      const float scale = 512.0f;
      const float* grad_scale = c.scaled ? &scale : nullptr;

      Context ctx(Device::CPU);
      Staged x = stage(logits, ls, dtype), want_grad = stage(logits, ls, dtype);
      float want_loss = 0.25f, got_loss = 0.25f;  // accumulated into
      int32_t want_correct = 2, got_correct = 2;
      std::vector<int32_t> want_pred(c.n, -1), got_pred(c.n, -1);
      const Tensor labels_t(labels.data(), Shape{static_cast<int64_t>(labels.size())});
      if (mixed)
        ops::mixed_softmax_cross_entropy(ctx, x.t, labels_t, &c.mix_lambda, c.smoothing, grad_scale,
                                         &want_grad.t, Tensor(&want_loss, Shape{1}),
                                         Tensor(&want_correct, Shape{1}));
      else
        ops::softmax_cross_entropy(ctx, x.t, labels_t, c.smoothing, grad_scale, &want_grad.t,
                                   Tensor(&want_loss, Shape{1}), Tensor(&want_correct, Shape{1}));
      ops::argmax_rows(ctx, x.t, Tensor(want_pred.data(), Shape{c.n}));

      Staged got_grad = stage(std::vector<float>(logits.size(), NAN), ls, dtype);
      with_float_type(dtype, "test",
                      [&](auto tag) {  // as layers/softmax_cross_entropy_cuda.cu launches
                        using T = typename decltype(tag)::type;
                        launch(dim3(1), dim3(kCeThreads), softmax_cross_entropy_kernel<T>,
                               x.as<T>(), labels.data(), mixed ? labels.data() + c.n : nullptr,
                               mixed ? &c.mix_lambda : nullptr, c.smoothing, grad_scale,
                               got_grad.as<T>(), &got_loss, &got_correct, c.n, c.k);
                        const unsigned blocks = static_cast<unsigned>((c.n + 255) / 256);
                        launch(dim3(blocks ? blocks : 1), dim3(256), argmax_rows_kernel<T>,
                               x.as<T>(), got_pred.data(), c.n, c.k);
                      });
      const std::string at =
          ls.str() + " " + dtype_name(dtype) + " lambda " + std::to_string(c.mix_lambda);
      EXPECT_NEAR(got_loss, want_loss, 1e-6 * std::abs(want_loss)) << at;
      EXPECT_EQ(got_correct, want_correct) << at;
      EXPECT_LT(max_relative(values(got_grad), values(want_grad)), 1e-5) << at;
      EXPECT_EQ(got_pred, want_pred) << at;
    }
}

TEST(EmulatedKernels, BiasGradientMatchesTheCpuInOneChunkAndMany) {
  // conv2d planes of a warp or more (coalesced walk), linear's PQ = 1, a
  // batch of 1, and a batch over kBiasChunks images (chunks of several).
  for (const Shape& s :
       {Shape{5, 3, 6, 7}, Shape{40, 2, 1, 1}, Shape{1, 4, 9, 9}, Shape{70, 2, 3, 2}})
    for (const DType dtype : {DType::F32, DType::BF16})
      for (const bool scratch : {false, true}) {
        const int64_t n = s[0], k = s[1], pq = s[2] * s[3];
        Rng rng(static_cast<uint64_t>(s.numel()));
        Staged dy = stage(uniform(rng, s.numel(), -1.0f, 1.0f), s, dtype);
        Context ctx(Device::CPU);
        std::vector<float> want(k, NAN), got(k, NAN);
        ops::conv2d_backward_bias(ctx, dy.t, Tensor(want.data(), Shape{k}));

        // As bias_gradient (layers/bias_activation_cuda.cu) chooses the chunks.
        const int64_t chunks =
            scratch ? std::min<int64_t>(kBiasChunks, std::max<int64_t>(n, 1)) : 1;
        const int64_t per_chunk = (n + chunks - 1) / chunks;
        std::vector<double> partial(static_cast<size_t>(k * chunks), NAN);
        double* partials = chunks > 1 ? partial.data() : nullptr;
        with_float_type(dtype, "test", [&](auto tag) {
          using T = typename decltype(tag)::type;
          launch(dim3(static_cast<unsigned>(k), static_cast<unsigned>(chunks)), dim3(kBiasThreads),
                 bias_gradient_kernel<T>, dy.as<T>(), partials, got.data(), n, k, pq, per_chunk);
        });
        if (partials)
          launch(dim3(blocks_for(k)), dim3(kThreads), bias_gradient_finish_kernel, partials,
                 got.data(), k, chunks);
        EXPECT_LT(max_relative(got, want), 1e-6)
            << s.str() << " " << dtype_name(dtype) << " chunks " << chunks;
      }
}

TEST(EmulatedKernels, BiasActivationEpilogueAddsTheBiasThenTheRelu) {
  const Shape s{3, 5, 4, 3};
  const int64_t k = s[1], pq = s[2] * s[3], total = s.numel();
  Rng rng(4);
  const std::vector<float> y = uniform(rng, total, -2.0f, 2.0f), b = uniform(rng, k, -1.0f, 1.0f);
  for (const DType dtype : {DType::F32, DType::BF16})
    for (const bool relu : {false, true})
      for (const bool bias : {false, true}) {
        // The CPU reference's epilogue: y + b in float, ReLU, one rounding.
        Staged in = stage(y, s, dtype);
        std::vector<float> want = values(in);
        for (int64_t i = 0; i < total; ++i) {
          float v = want[i];
          if (bias) v += b[(i / pq) % k];
          want[i] = relu ? relu_value(v) : v;
        }
        want = values(stage(want, s, dtype));
        const float* bp = bias ? b.data() : nullptr;
        with_float_type(dtype, "test", [&](auto tag) {
          using T = typename decltype(tag)::type;
          if (relu)
            launch(dim3(blocks_for(total)), dim3(kThreads), bias_activation_kernel<T, true>,
                   in.as<T>(), bp, total, k, pq);
          else
            launch(dim3(blocks_for(total)), dim3(kThreads), bias_activation_kernel<T, false>,
                   in.as<T>(), bp, total, k, pq);
        });
        EXPECT_EQ(values(in), want)
            << dtype_name(dtype) << (relu ? " relu" : "") << (bias ? " bias" : "");
      }
}

TEST(EmulatedKernels, LinearBiasBroadcastFillsEveryRow) {
  const int64_t n = 300, o = 7;  // several blocks
  Rng rng(5);
  const std::vector<float> b = uniform(rng, o, -1.0f, 1.0f);
  std::vector<float> rows(static_cast<size_t>(n * o));
  for (int64_t i = 0; i < n * o; ++i) rows[i] = b[i % o];
  for (const DType dtype : {DType::F32, DType::BF16}) {
    const Staged want = stage(rows, Shape{n, o}, dtype);  // rounded to y's dtype once
    Staged y = stage(std::vector<float>(rows.size(), NAN), Shape{n, o}, dtype);
    with_float_type(dtype, "test", [&](auto tag) {  // as layers/linear_cuda.cu launches
      using T = typename decltype(tag)::type;
      launch(dim3(blocks_for(n * o)), dim3(kThreads), broadcast_rows_kernel<T>, y.as<T>(), b.data(),
             n, o);
    });
    EXPECT_EQ(y.bytes, want.bytes) << dtype_name(dtype);
  }
}

// Dropout elementwise (NCHW: the GPU draws over memory order, which is the
// CPU's order only there) and Dropout2d per channel in both layouts (the draw
// of plane n * C + c wherever its pixels lie): the CPU's mask, output and
// backward, bit for bit.
TEST(EmulatedKernels, DropoutDrawsTheCpusMaskAndItsBackwardMultiplies) {
  const Shape s{4, 3, 7, 5};
  const int64_t n = s.numel();
  Rng rng(6);
  const std::vector<float> x = uniform(rng, n, -2.0f, 2.0f), dy = uniform(rng, n, -1.0f, 1.0f);
  const uint64_t step_key = 0x1234abcdull, salt = 77;
  const float p = 0.3f, scale = 1.0f / (1.0f - p);
  struct Case {
    bool per_channel, nhwc;
  };
  for (const Case c : {Case{false, false}, Case{true, false}, Case{true, true}})
    for (const DType dtype : {DType::F32, DType::BF16}) {
      const std::string what = std::string(c.per_channel ? "dropout2d " : "dropout ") +
                               (c.nhwc ? "NHWC " : "NCHW ") + dtype_name(dtype);
      Context ctx(Device::CPU);
      auto staged = [&](const std::vector<float>& v) { return stage(v, s, dtype, c.nhwc); };
      Staged xt = staged(x), dyt = staged(dy);
      Staged mask = staged(x), y = staged(x), dx = staged(x);
      ops::dropout_forward(ctx, p, scale, &step_key, salt, c.per_channel, xt.t, mask.t, y.t);
      ops::multiply(ctx, dyt.t, mask.t, scale, dx.t);

      const std::vector<float> nan(static_cast<size_t>(n), NAN);
      Staged got_mask = staged(nan), got_y = staged(nan), got_dx = staged(nan);
      with_float_type(dtype, "test", [&](auto tag) {  // as layers/dropout_cuda.cu launches
        using T = typename decltype(tag)::type;
        launch(dim3(blocks_for(n)), dim3(kThreads), dropout_kernel<T>, p, scale, &step_key, salt,
               c.per_channel, c.per_channel ? s[2] * s[3] : int64_t{1},
               c.per_channel ? s[1] : int64_t{1}, c.per_channel && c.nhwc, xt.as<T>(),
               got_mask.as<T>(), got_y.as<T>(), n);
        launch(dim3(blocks_for(n)), dim3(kThreads), multiply_kernel<T>, dyt.as<T>(),
               got_mask.as<T>(), scale, got_dx.as<T>(), n);
      });
      EXPECT_EQ(values(got_mask), values(mask)) << what;
      EXPECT_EQ(values(got_y), values(y)) << what;
      EXPECT_EQ(values(got_dx), values(dx)) << what;
      if (!c.per_channel) continue;
      const std::vector<float> m = values(mask);  // NCHW: each plane all kept or all dropped
      int64_t dropped = 0;
      for (int64_t plane = 0; plane < s[0] * s[1]; ++plane) {
        const int64_t hw = s[2] * s[3];
        for (int64_t i = 1; i < hw; ++i)
          ASSERT_EQ(m[static_cast<size_t>(plane * hw + i)], m[static_cast<size_t>(plane * hw)])
              << what;
        dropped += m[static_cast<size_t>(plane * hw)] == 0.0f;
      }
      EXPECT_GT(dropped, 0) << what;
      EXPECT_LT(dropped, s[0] * s[1]) << what;
    }
}

// Every activation's forward and backward kernel: bit for bit the CPU
// reference (the same arithmetic, layers/activation_math.h; on a GPU its
// math functions differ by ulps, which tests/gpu_test.cpp allows for).
TEST(EmulatedKernels, ActivationsMatchTheCpuForwardAndBackward) {
  const Shape s{3, 5, 7, 4};
  const int64_t n = s.numel();
  Rng rng(9);
  std::vector<float> x = uniform(rng, n, -5.0f, 5.0f);
  x[0] = 0.0f;
  x[1] = NAN;
  x[2] = -3.0f;  // the hard activations' kinks
  x[3] = 3.0f;
  const std::vector<float> dy = uniform(rng, n, -1.0f, 1.0f);
  for (const auto& [kind, param] :
       {std::pair{Activation::kTanh, 0.0f}, std::pair{Activation::kSigmoid, 0.0f},
        std::pair{Activation::kLeakyRelu, 0.05f}, std::pair{Activation::kElu, 0.7f},
        std::pair{Activation::kSilu, 0.0f}, std::pair{Activation::kGelu, 0.0f},
        std::pair{Activation::kGeluTanh, 0.0f}, std::pair{Activation::kRelu6, 0.0f},
        std::pair{Activation::kHardsigmoid, 0.0f}, std::pair{Activation::kHardswish, 0.0f},
        std::pair{Activation::kMish, 0.0f}, std::pair{Activation::kSelu, 0.0f}})
    for (const DType dtype : {DType::F32, DType::BF16}) {
      Context ctx(Device::CPU);
      Staged xt = stage(x, s, dtype), dyt = stage(dy, s, dtype);
      Staged y = stage(x, s, dtype), dx = stage(x, s, dtype);
      ops::activation_forward(ctx, kind, param, xt.t, y.t);
      ops::activation_backward(ctx, kind, param, xt.t, y.t, dyt.t, dx.t);

      Staged got_y = stage(std::vector<float>(n, 7.0f), s, dtype),
             got_dx = stage(std::vector<float>(n, 7.0f), s, dtype);
      with_float_type(dtype, "test", [&](auto tag) {  // as layers/activation_cuda.cu
        using T = typename decltype(tag)::type;
        with_activation(kind, [&](auto k) {
          launch(dim3(blocks_for(n)), dim3(kThreads),
                 activation_forward_kernel<T, decltype(k)::value>, xt.as<T>(), got_y.as<T>(), n,
                 param);
          launch(dim3(blocks_for(n)), dim3(kThreads),
                 activation_backward_kernel<T, decltype(k)::value>, xt.as<T>(), got_y.as<T>(),
                 dyt.as<T>(), got_dx.as<T>(), n, param);
        });
      });
      const std::string at = std::to_string(static_cast<int>(kind)) + " " + dtype_name(dtype);
      // NaN compares unequal: compare the bits' values with NaN mapped to a marker
      const auto marked = [](std::vector<float> v) {
        for (float& e : v)
          if (std::isnan(e)) e = -12345.0f;
        return v;
      };
      EXPECT_EQ(marked(values(got_y)), marked(values(y))) << at;
      EXPECT_EQ(marked(values(got_dx)), marked(values(dx))) << at;
    }
}

}  // namespace
}  // namespace cnne
