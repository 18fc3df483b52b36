// Note [CPU threads]: the pool runs every part once, errors come back to the
// caller, and the CPU ops give the same bits on any number of threads except
// the convolution's weight gradient, which is only deterministic per count.
#include <gtest/gtest.h>

#include <atomic>
#include <cmath>
#include <stdexcept>
#include <vector>

#include "engine/context.h"
#include "engine/ops.h"
#include "engine/rng.h"
#include "engine/thread_pool.h"
#include "tests/test_util.h"

namespace cnne::test {
namespace {

TEST(ThreadPool, EveryPartOfEveryJobRunsExactlyOnce) {
  ThreadPool pool(4);
  std::vector<std::atomic<int>> runs(4);
  int expected[4] = {};
  for (int job = 0; job < 1000; ++job) {
    const int parts = 1 + job % 4;
    pool.run(parts, [&](int part) { runs[static_cast<size_t>(part)].fetch_add(1); });
    for (int p = 0; p < parts; ++p) ++expected[p];
  }
  for (int p = 0; p < 4; ++p) EXPECT_EQ(runs[static_cast<size_t>(p)].load(), expected[p]) << p;
}

TEST(ThreadPool, AFailingPartReachesTheCallerAndThePoolCarriesOn) {
  ThreadPool pool(3);
  for (int failing : {0, 2}) {
    std::atomic<int> finished{0};
    EXPECT_THROW(pool.run(3,
                          [&](int part) {
                            if (part == failing) throw std::runtime_error("part failed");
                            finished.fetch_add(1);
                          }),
                 std::runtime_error);
    EXPECT_EQ(finished.load(), 2);  // the other parts still ran to the end
  }
  std::atomic<int> sum{0};
  pool.run(3, [&](int part) { sum.fetch_add(part + 1); });
  EXPECT_EQ(sum.load(), 6);
}

TEST(ThreadPool, ContextSplitsContiguousRangesOfAtLeastTheGrain) {
  Context ctx(Device::CPU, 4);
  EXPECT_EQ(ctx.parallel_parts(100, 1), 4);
  EXPECT_EQ(ctx.parallel_parts(100, 40), 2);
  EXPECT_EQ(ctx.parallel_parts(10, 40), 1);
  EXPECT_EQ(Context(Device::CPU, 1).parallel_parts(100, 1), 1);
  for (int64_t n : {0, 1, 3, 7, 1000}) {
    std::vector<int> hits(static_cast<size_t>(n), 0);
    std::atomic<int> calls{0};
    ctx.parallel(n, 2, [&](int, int64_t begin, int64_t end) {
      calls.fetch_add(1);
      for (int64_t i = begin; i < end; ++i) ++hits[static_cast<size_t>(i)];
    });
    EXPECT_EQ(calls.load(), ctx.parallel_parts(n, 2)) << n;
    for (int64_t i = 0; i < n; ++i) EXPECT_EQ(hits[static_cast<size_t>(i)], 1) << n << " " << i;
  }
}

// One convolution, pooling and ReLU, forward and backward, on `threads` threads.
struct OpResults {
  HostTensor y, dx, dw, db, pooled, pool_dx, relu_y, relu_dx;
};

OpResults run_ops(int threads, const Conv2dParams& p, const Pool2dParams& pool) {
  Context ctx(Device::CPU, threads);
  Rng rng(5);
  const HostTensor x = random_tensor(rng, Shape{5, 3, 11, 9});
  const HostTensor w = random_tensor(rng, Shape{4, 3, 3, 3});
  const HostTensor b = random_tensor(rng, Shape{4});
  ctx.reserve_workspace(ops::conv2d_workspace_bytes(ctx, p, x.shape, w.shape, DType::F32));
  const int64_t oh = window_output_size(11, 3, p.stride_h, p.pad_h);
  const int64_t ow = window_output_size(9, 3, p.stride_w, p.pad_w);
  OpResults r;
  r.y = HostTensor(Shape{5, 4, oh, ow});
  const Tensor bias = b.view();
  ops::conv2d_forward(ctx, p, x.view(), w.view(), &bias, FusedActivation::kRelu, r.y.view());
  const HostTensor dy = random_tensor(rng, r.y.shape);
  r.dx = HostTensor(x.shape);
  r.dw = HostTensor(w.shape);
  r.db = HostTensor(b.shape);
  ops::conv2d_backward_data(ctx, p, w.view(), dy.view(), r.dx.view());
  ops::conv2d_backward_filter(ctx, p, x.view(), dy.view(), r.dw.view());
  ops::conv2d_backward_bias(ctx, dy.view(), r.db.view());

  const Shape pooled{5, 4, window_output_size(oh, pool.kernel_h, pool.stride_h, pool.pad_h),
                     window_output_size(ow, pool.kernel_w, pool.stride_w, pool.pad_w)};
  r.pooled = HostTensor(pooled);
  ops::maxpool2d_forward(ctx, pool, r.y.view(), r.pooled.view());
  const HostTensor dpool = random_tensor(rng, pooled);
  r.pool_dx = HostTensor(r.y.shape);
  ops::maxpool2d_backward(ctx, pool, r.y.view(), r.pooled.view(), dpool.view(), r.pool_dx.view());

  const HostTensor big = random_tensor(rng, Shape{3, 70000});  // past the elementwise grain
  r.relu_y = HostTensor(big.shape);
  ops::relu_forward(ctx, big.view(), r.relu_y.view());
  r.relu_dx = HostTensor(big.shape);
  ops::relu_backward(ctx, r.relu_y.view(), big.view(), r.relu_dx.view());
  return r;
}

TEST(CpuThreads, OpsGiveTheSameBitsOnAnyThreadCountButTheWeightGradient) {
  Pool2dParams tiling;  // 2x2 stride 2
  Pool2dParams overlapping;
  overlapping.kernel_h = overlapping.kernel_w = 3;
  overlapping.pad_h = overlapping.pad_w = 1;
  for (const Conv2dParams& p : {Conv2dParams{1, 1, 1, 1}, Conv2dParams{2, 1, 0, 1}}) {
    for (const Pool2dParams& pool : {tiling, overlapping}) {
      const OpResults one = run_ops(1, p, pool);
      for (int threads : {2, 3, 8}) {
        const OpResults many = run_ops(threads, p, pool);
        EXPECT_EQ(many.y.values, one.y.values) << threads;
        EXPECT_EQ(many.dx.values, one.dx.values) << threads;
        EXPECT_EQ(many.db.values, one.db.values) << threads;
        EXPECT_EQ(many.pooled.values, one.pooled.values) << threads;
        EXPECT_EQ(many.pool_dx.values, one.pool_dx.values) << threads;
        EXPECT_EQ(many.relu_y.values, one.relu_y.values) << threads;
        EXPECT_EQ(many.relu_dx.values, one.relu_dx.values) << threads;
        // The weight gradient sums per-thread partials: equal up to rounding,
        // and the same bits on every run with the same count.
        for (size_t i = 0; i < one.dw.values.size(); ++i)
          EXPECT_NEAR(many.dw[i], one.dw[i], 1e-5 * (1.0 + std::fabs(one.dw[i]))) << threads;
        EXPECT_EQ(run_ops(threads, p, pool).dw.values, many.dw.values) << threads;
      }
    }
  }
}

// Batch norm (training forward with ReLU, backward, inference) and both
// optimizers on `threads` threads; every output concatenated.
std::vector<float> norm_and_update(int threads) {
  Context ctx(Device::CPU, threads);
  Rng rng(9);
  const Shape shape{4, 6, 96, 96};  // past the per-channel grain, so the channels split
  const HostTensor x = random_tensor(rng, shape), dy = random_tensor(rng, shape);
  const HostTensor gamma = random_tensor(rng, Shape{6}, 0.5f, 1.5f);
  const HostTensor beta = random_tensor(rng, Shape{6});
  HostTensor running_mean(Shape{6}), running_var(Shape{6}, 1.0f), mean(Shape{6}), invstd(Shape{6}),
      y(shape), dx(shape), dgamma(Shape{6}), dbeta(Shape{6}), yi(shape);
  ops::batchnorm_forward_training(ctx, x.view(), gamma.view(), beta.view(), 0.1f, 1e-5f,
                                  running_mean.view(), running_var.view(), mean.view(),
                                  invstd.view(), FusedActivation::kRelu, y.view());
  ops::batchnorm_backward(ctx, x.view(), dy.view(), gamma.view(), mean.view(), invstd.view(), 1e-5f,
                          dx.view(), dgamma.view(), dbeta.view());
  ops::batchnorm_forward_inference(ctx, x.view(), gamma.view(), beta.view(), running_mean.view(),
                                   running_var.view(), 1e-5f, FusedActivation::kNone, yi.view());

  const Shape arena{300001};  // past the elementwise grain, odd
  HostTensor p = random_tensor(rng, arena), g = random_tensor(rng, arena), buf(arena);
  SgdHyper sgd;
  sgd.momentum = 0.9f;
  sgd.weight_decay = 5e-4f;
  sgd.nesterov = true;
  sgd.first_step = 1;
  ops::sgd_update(ctx, &sgd, nullptr, p.view(), g.view(), buf.view());
  HostTensor m(arena), v(arena);
  AdamHyper adam;
  adam.decay_factor = 0.999f;
  ops::adam_update(ctx, &adam, nullptr, p.view(), g.view(), m.view(), v.view(), nullptr);

  std::vector<float> all;
  for (const HostTensor* t :
       {&y, &dx, &dgamma, &dbeta, &yi, &running_mean, &running_var, &p, &buf, &m, &v})
    all.insert(all.end(), t->values.begin(), t->values.end());
  return all;
}

TEST(CpuThreads, BatchNormAndOptimizersGiveTheSameBitsOnAnyThreadCount) {
  const std::vector<float> one = norm_and_update(1);
  for (int threads : {2, 5}) EXPECT_EQ(norm_and_update(threads), one) << threads;
}

TEST(CpuThreads, TrainingWithThreadsIsReproducibleAndClose) {
  TempDir data, out;
  make_small_cifar(data, 16, 8);
  auto run = [&](int threads) {
    const RunResult r = run_cli("train --device cpu --no-eval --data " + data.path().string() +
                                " --epochs 1 --batch-size 8 --log-every 1 --threads " +
                                std::to_string(threads) + " --out " + out.file("w.safetensors"));
    EXPECT_EQ(r.exit_code, 0) << r.err;
    return loss_lines(r.out);
  };
  const std::string one = run(1), three = run(3);
  EXPECT_FALSE(one.empty());
  EXPECT_EQ(run(3), three);  // deterministic for a given count
  // The printed losses (3 decimals) agree: only rounding differs.
  EXPECT_EQ(three, one);
}

}  // namespace
}  // namespace cnne::test
