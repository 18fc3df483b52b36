// The GPU path against the CPU reference (ggml's test-backend-ops idea): every
// layer forward and backward over a table of shapes, reporting the worst
// element; the whole network for K steps; the PyTorch fixtures; and no device
// allocation inside a training step. Every test skips without a usable GPU.
#include <gtest/gtest.h>

#include <cmath>
#include <cstring>
#include <limits>
#include <sstream>

#ifdef CNNE_WITH_CUDA
#include <cuda_runtime.h>

#include "cuda/device_memory.h"
#include "cuda/device_query.h"
#endif
#include "engine/config.h"
#include "engine/device_dataset.h"
#include "engine/gradient_clipper.h"
#include "engine/loss_meter.h"
#include "engine/loss_scaler.h"
#include "engine/ops.h"
#include "engine/optimizer.h"
#include "engine/optimizer_config.h"
#include "engine/step_args.h"
#include "engine/step_graph.h"
#include "engine/weight_average.h"
#include "layers/activation.h"
#include "layers/batchnorm.h"
#include "layers/conv2d.h"
#include "layers/dropout.h"
#include "layers/global_avgpool2d.h"
#include "layers/groupnorm.h"
#include "layers/linear.h"
#include "layers/pool2d.h"
#include "layers/prelu.h"
#include "layers/relu.h"
#include "tests/fused_test_util.h"
#include "tests/parity.h"
#include "tests/test_util.h"

namespace cnne::test {
namespace {

using test::HostTensor;

// A device copy of a host tensor, and back.
struct DeviceTensor {
  Buffer buffer;
  Shape shape;
  explicit DeviceTensor(const HostTensor& h)
      : buffer(Device::CUDA, h.values.size() * sizeof(float)), shape(h.shape) {
    copy_tensor(h.view(), view());
  }
  explicit DeviceTensor(Shape s)
      : buffer(Device::CUDA, static_cast<size_t>(s.numel()) * 4), shape(s) {}
  Tensor view() const { return Tensor(static_cast<float*>(buffer.data()), shape, Device::CUDA); }
  HostTensor download() const {
    HostTensor h(shape);
    copy_tensor(view(), h.view());
    return h;
  }
};

// "" when |gpu - cpu| <= abs + rel * |cpu| everywhere, else the worst element.
std::string worst(const std::string& what, const HostTensor& gpu, const HostTensor& cpu,
                  double abs_tol, double rel_tol) {
  double excess = 0;
  size_t at = 0;
  bool bad = false;
  for (size_t i = 0; i < cpu.values.size(); ++i) {
    const double d = std::fabs(double(gpu[i]) - double(cpu[i]));
    const double e = d - abs_tol - rel_tol * std::fabs(double(cpu[i]));
    if (e > excess || std::isnan(gpu[i])) {
      excess = std::isnan(gpu[i]) ? INFINITY : e;
      at = i;
      bad = true;
    }
  }
  if (!bad) return "";
  std::ostringstream s;
  s << what << " worst element " << at << ": gpu " << gpu[at] << ", cpu " << cpu[at];
  return s.str();
}

// Runs `make()`'s layer on CPU and GPU from the same parameters and input and
// compares y, dx and every parameter gradient.
template <class Make>
// `levels` > 0 rounds the input to that many distinct values (ties everywhere).
void compare_layer(Make make, Shape in, uint64_t seed, double tol = 1e-5, int levels = 0) {
  auto cpu_layer = make();
  auto gpu_layer = make();
  Context cpu(Device::CPU), gpu(Device::CUDA);
  StepArgs cpu_key(cpu), gpu_key(gpu);  // the same step key on both devices (dropout)
  cpu_key.next().step_key = gpu_key.next().step_key = 1234;
  cpu_key.upload();
  gpu_key.upload();
  cpu_layer->bind_step_key(cpu_key.step_key(), 7);
  gpu_layer->bind_step_key(gpu_key.step_key(), 7);
  LayerHarness h(cpu, *cpu_layer, in, seed);
  Rng rng(seed);
  HostTensor x = random_tensor(rng, in);
  if (levels > 0)
    for (int64_t i = 0; i < x.shape.numel(); ++i)
      x.values[static_cast<size_t>(i)] = std::round((x.values[static_cast<size_t>(i)] + 1.0f) *
                                                    0.5f * static_cast<float>(levels - 1));
  const HostTensor y = h.forward(x);
  const HostTensor dy = random_tensor(rng, y.shape);
  const HostTensor dx = h.backward(x, y, dy);

  std::vector<DeviceTensor> params, grads;
  std::vector<Tensor> pv, gv;
  for (size_t i = 0; i < h.params().size(); ++i) {
    params.emplace_back(h.params()[i]);
    grads.emplace_back(h.params()[i].shape);
  }
  for (size_t i = 0; i < params.size(); ++i) {
    pv.push_back(params[i].view());
    gv.push_back(grads[i].view());
  }
  gpu_layer->bind(pv, gv);
  // Buffers start as the CPU layer's did; scratch is the GPU's own.
  std::vector<HostTensor> host_buffers;
  std::vector<Tensor> host_views, bv, sv;
  for (const ParamSpec& spec : gpu_layer->buffer_specs()) host_buffers.emplace_back(spec.shape);
  for (auto& b : host_buffers) host_views.push_back(b.view());
  gpu_layer->initialize_buffers(host_views);
  std::vector<DeviceTensor> state;
  for (const auto& b : host_buffers) state.emplace_back(b);
  const size_t buffer_count = state.size();
  for (const ParamSpec& spec : gpu_layer->scratch_specs(in)) state.emplace_back(spec.shape);
  for (size_t i = 0; i < state.size(); ++i) (i < buffer_count ? bv : sv).push_back(state[i].view());
  gpu_layer->bind_state(bv, sv);
  gpu.reserve_workspace(gpu_layer->workspace_bytes(gpu, in));
  DeviceTensor dx_d(x.shape), y_d(y.shape);
  const DeviceTensor x_d(x), dy_d(dy);
  gpu_layer->forward(gpu, x_d.view(), y_d.view());
  const Tensor dx_view = dx_d.view();
  gpu_layer->backward(gpu, x_d.view(), y_d.view(), dy_d.view(), &dx_view);
  gpu.synchronize();
  const std::string label = cpu_layer->repr() + " on " + in.str();
  EXPECT_EQ(worst(label + " y", y_d.download(), y, tol, tol), "");
  EXPECT_EQ(worst(label + " dx", dx_d.download(), dx, tol, tol), "");
  for (size_t i = 0; i < grads.size(); ++i)
    EXPECT_EQ(
        worst(label + " dparam" + std::to_string(i), grads[i].download(), h.grads()[i], tol, tol),
        "");
  for (size_t i = 0; i < buffer_count; ++i)  // running statistics after one training forward
    EXPECT_EQ(
        worst(label + " buffer" + std::to_string(i), state[i].download(), h.buffers()[i], tol, tol),
        "");
  if (buffer_count > 0) {  // and evaluation mode, from those running statistics
    cpu_layer->set_training(false);
    gpu_layer->set_training(false);
    const HostTensor y_eval = h.forward(x);
    gpu_layer->forward(gpu, x_d.view(), y_d.view());
    gpu.synchronize();
    EXPECT_EQ(worst(label + " y (eval)", y_d.download(), y_eval, tol, tol), "");
  }
}

struct ConvShape {
  int64_t n, c, h, w, k, r;
  int stride, pad;
  int groups = 1;  // grouped, depthwise, grouped 1x1 (cudnnSetConvolutionGroupCount)
  int dilation = 1;
};

TEST(GpuVsCpu, Conv2d) {
  REQUIRE_GPU();
  for (ConvShape s :
       {ConvShape{4, 3, 32, 32, 6, 5, 1, 0}, ConvShape{1, 6, 14, 14, 16, 5, 1, 0},
        ConvShape{3, 5, 9, 7, 7, 3, 1, 1}, ConvShape{2, 4, 11, 11, 8, 3, 2, 1},
        ConvShape{1, 1, 5, 5, 1, 1, 1, 0}, ConvShape{5, 16, 8, 8, 32, 3, 1, 1},
        ConvShape{3, 4, 9, 8, 6, 3, 1, 1, 2}, ConvShape{3, 8, 9, 8, 8, 3, 2, 1, 8},
        ConvShape{3, 4, 9, 8, 12, 3, 1, 0, 4}, ConvShape{3, 16, 9, 8, 8, 1, 1, 0, 4},
        ConvShape{3, 5, 11, 9, 7, 3, 1, 2, 1, 2}, ConvShape{2, 4, 13, 12, 6, 3, 2, 1, 1, 3},
        ConvShape{3, 8, 10, 9, 8, 3, 1, 2, 8, 2}}) {  // dilated, strided, depthwise dilated
    for (bool fused_relu : {false, true})  // Note [ReLU fusion]: the bias+ReLU epilogue kernel
      for (bool bias : {true, false}) {
        if (!bias && !fused_relu) continue;
        compare_layer(
            [&] {
              Conv2d::Options o;
              o.in_channels = s.c;
              o.out_channels = s.k;
              o.kernel_h = o.kernel_w = s.r;
              o.params = {s.stride, s.stride, s.pad, s.pad};
              o.params.groups = s.groups;
              o.params.dilation_h = o.params.dilation_w = s.dilation;
              o.bias = bias;
              auto layer = std::make_unique<Conv2d>("conv", o);
              layer->fuse_relu(fused_relu);
              return layer;
            },
            Shape{s.n, s.c, s.h, s.w}, 1, 2e-5);
      }
  }
}

TEST(GpuVsCpu, MaxPool2d) {
  REQUIRE_GPU();
  for (Pool2dParams p : {Pool2dParams{2, 2, 2, 2, 0, 0}, Pool2dParams{3, 3, 2, 2, 1, 1},
                         Pool2dParams{3, 2, 1, 2, 0, 1}})
    for (Shape in : {Shape{4, 6, 28, 28}, Shape{1, 3, 7, 9}, Shape{3, 2, 5, 5}})
      compare_layer([&] { return std::make_unique<MaxPool2d>("pool", p); }, in, 2);
  // Tied maxima (3 distinct values): the first in window order takes the
  // gradient on both devices, as in PyTorch.
  for (Pool2dParams p : {Pool2dParams{2, 2, 2, 2, 0, 0}, Pool2dParams{3, 3, 2, 2, 1, 1}})
    compare_layer([&] { return std::make_unique<MaxPool2d>("pool", p); }, Shape{2, 3, 12, 10}, 4,
                  0.0, 3);
}

TEST(GpuVsCpu, ReLU) {
  REQUIRE_GPU();
  for (Shape in : {Shape{4, 6, 28, 28}, Shape{1, 7}, Shape{3, 120}})
    compare_layer([] { return std::make_unique<ReLU>("relu"); }, in, 3);
}

TEST(GpuVsCpu, Linear) {
  REQUIRE_GPU();
  for (auto [n, i, o] : {std::tuple{4, 400, 120}, std::tuple{1, 84, 10}, std::tuple{7, 33, 5},
                         std::tuple{256, 120, 84}})
    for (bool bias : {true, false})
      for (bool fused_relu : {false, true})
        compare_layer(
            [&] {
              auto layer = std::make_unique<Linear>("fc", i, o, bias);
              layer->fuse_relu(fused_relu);
              return layer;
            },
            Shape{n, i}, 4, 2e-5);
}

// ReLU keeps NaN on the GPU as on the CPU (and in PyTorch), through cuDNN's
// activation and through the fused epilogue.
TEST(GpuVsCpu, ReluKeepsNanOnTheGpu) {
  REQUIRE_GPU();
  Context gpu(Device::CUDA);
  const float nan = std::numeric_limits<float>::quiet_NaN();
  HostTensor x(Shape{1, 4});
  x.values = {nan, -1.0f, 2.0f, 0.0f};
  const DeviceTensor x_d(x), y_d(x.shape);
  ops::relu_forward(gpu, x_d.view(), y_d.view());
  const HostTensor y = y_d.download();
  EXPECT_TRUE(std::isnan(y[0]));
  EXPECT_EQ(y[1], 0.0f);
  EXPECT_EQ(y[2], 2.0f);
  EXPECT_EQ(y[3], 0.0f);
  HostTensor in(Shape{1, 2}), w(Shape{2, 2}), b(Shape{2});
  in.values = {1.0f, 2.0f};
  w.values = {1.0f, 0.0f, 0.0f, 1.0f};
  b.values = {nan, -5.0f};
  const DeviceTensor in_d(in), w_d(w), b_d(b), out_d(Shape{1, 2});
  const Tensor bv = b_d.view();
  ops::linear_forward(gpu, in_d.view(), w_d.view(), &bv, FusedActivation::kRelu, out_d.view());
  const HostTensor out = out_d.download();
  EXPECT_TRUE(std::isnan(out[0]));  // 1 + nan
  EXPECT_EQ(out[1], 0.0f);          // relu(2 - 5)
}

TEST(GpuVsCpu, BatchNormAvgPoolsAndDropout) {
  REQUIRE_GPU();
  // The last two split each channel over several blocks (batchnorm_partials.h),
  // in chunks that straddle the (H, W) planes.
  for (Shape in : {Shape{4, 6, 8, 8}, Shape{1, 3, 5, 7}, Shape{8, 16, 4, 4}, Shape{9, 3, 37, 29},
                   Shape{64, 2, 16, 16}})
    compare_layer(
        [&] { return std::make_unique<BatchNorm>("bn", BatchNorm::Kind::k2d, in[1], 1e-5, 0.1); },
        in, 5, 5e-5);
  // batchnorm1d: (N, C) as (N, C, 1, 1), one value per plane
  for (Shape in : {Shape{8, 12}, Shape{2, 3}, Shape{300, 5}})
    compare_layer(
        [&] { return std::make_unique<BatchNorm>("bn", BatchNorm::Kind::k1d, in[1], 1e-5, 0.1); },
        in, 5, 5e-5);
  for (Pool2dParams p :
       {Pool2dParams{2, 2, 2, 2, 0, 0}, Pool2dParams{3, 3, 2, 2, 1, 1},
        Pool2dParams{3, 3, 2, 2, 1, 1, false}, Pool2dParams{2, 4, 1, 1, 1, 2, false}})
    compare_layer([&] { return std::make_unique<AvgPool2d>("pool", p); }, Shape{3, 4, 9, 8}, 6);
  compare_layer([] { return std::make_unique<GlobalAvgPool2d>("gap"); }, Shape{5, 7, 4, 4}, 7);
  compare_layer([] { return std::make_unique<Dropout>("drop", 0.3); }, Shape{6, 50}, 8,
                0.0);  // the same mask bit for bit on both backends
  compare_layer([] { return std::make_unique<Dropout>("drop2d", 0.4, true); }, Shape{5, 9, 3, 4}, 9,
                0.0);  // Dropout2d: the planes' draws alike
}

// GroupNorm, InstanceNorm2d and LayerNorm (a block per (n, group),
// groupnorm_cuda.cu): groups of 2 channels, one group of more values than a
// block's threads, one channel per group, no affine parameters, (N, C) input,
// a batch of 1, LayerNorm over 300 features.
TEST(GpuVsCpu, GroupNormAndInstanceNorm) {
  REQUIRE_GPU();
  using Kind = GroupNorm::Kind;
  struct Case {
    Kind kind;
    int64_t groups;
    bool affine;
    Shape in;
  };
  for (const Case& c :
       {Case{Kind::kGroup, 4, true, Shape{4, 8, 8, 8}},
        Case{Kind::kGroup, 1, true, Shape{3, 6, 9, 7}},
        Case{Kind::kGroup, 3, false, Shape{2, 12, 5, 5}}, Case{Kind::kGroup, 2, true, Shape{6, 10}},
        Case{Kind::kGroup, 8, true, Shape{1, 32, 16, 16}},
        Case{Kind::kInstance, 5, false, Shape{3, 5, 6, 4}},
        Case{Kind::kInstance, 7, true, Shape{2, 7, 33, 31}},
        Case{Kind::kLayer, 1, true, Shape{5, 300}}})
    compare_layer(
        [&] {
          return std::make_unique<GroupNorm>("gn", c.kind, c.groups, c.in[1], 1e-5, c.affine);
        },
        c.in, 13, 5e-5);
}

// The activations besides ReLU: the GPU's tanhf/expf/erff are within a few
// ulps of the host's, so a relative tolerance.
TEST(GpuVsCpu, Activations) {
  REQUIRE_GPU();
  for (const auto& [kind, param] :
       {std::pair{Activation::kTanh, 0.0}, std::pair{Activation::kSigmoid, 0.0},
        std::pair{Activation::kLeakyRelu, 0.05}, std::pair{Activation::kElu, 0.7},
        std::pair{Activation::kSilu, 0.0}, std::pair{Activation::kGelu, 0.0},
        std::pair{Activation::kGeluTanh, 0.0}, std::pair{Activation::kRelu6, 0.0},
        std::pair{Activation::kHardsigmoid, 0.0}, std::pair{Activation::kHardswish, 0.0},
        std::pair{Activation::kMish, 0.0}, std::pair{Activation::kSelu, 0.0}})
    compare_layer([&] { return std::make_unique<ActivationLayer>("act", kind, param); },
                  Shape{4, 6, 9, 7}, 9, 1e-5);
}

// PReLU: y and dx one product each; the slope's gradient a sum in double
// (a block per slope), on maps (a slope per channel or one for all) and (N, C).
TEST(GpuVsCpu, PReLU) {
  REQUIRE_GPU();
  for (const auto& [count, in] :
       {std::pair{int64_t{6}, Shape{4, 6, 9, 7}}, std::pair{int64_t{1}, Shape{3, 5, 8, 8}},
        std::pair{int64_t{10}, Shape{7, 10}}})
    compare_layer([&] { return std::make_unique<PReLU>("act", count, -0.2); }, in, 10, 1e-5);
}

const Normalization kCifarNorm({0.4914, 0.4822, 0.4465}, {0.247, 0.2435, 0.2616});

// The labels of one batch on both devices.
struct BatchLabels {
  std::vector<int32_t> cpu;  // (count)
  Buffer gpu;                // (count) I32 on the GPU
  Tensor gpu_view() const {
    return Tensor(static_cast<int32_t*>(gpu.data()), Shape{static_cast<int64_t>(cpu.size())},
                  Device::CUDA);
  }
};

// Batch b of n images from both data sets (`label_count`: n, or 2n for a
// mixed batch); expects the same pixels bit for bit and the same labels.
BatchLabels expect_same_batch(DeviceDataset& on_cpu, DeviceDataset& on_gpu, int64_t b, int64_t n,
                              int64_t label_count, StepArgs& cpu_args, StepArgs& gpu_args,
                              const std::string& what) {
  HostTensor x(Shape{n, 3, 32, 32});
  const DeviceTensor x_d(x.shape);
  BatchLabels labels{std::vector<int32_t>(label_count),
                     Buffer(Device::CUDA, static_cast<size_t>(label_count) * sizeof(int32_t))};
  on_cpu.load(b, n, x.view(), Tensor(labels.cpu.data(), Shape{label_count}), cpu_args);
  on_gpu.load(b, n, x_d.view(), labels.gpu_view(), gpu_args);
  std::vector<int32_t> gpu_labels(label_count);
  copy_tensor(labels.gpu_view(), Tensor(gpu_labels.data(), Shape{label_count}));
  EXPECT_EQ(worst(what, x_d.download(), x, 0, 0), "");  // bit for bit
  EXPECT_EQ(gpu_labels, labels.cpu) << what;
  return labels;
}

// A loss op called as loss(ctx, logits, labels, dlogits, loss_sum, correct) on
// both devices: the loss sums, the correct counts and dlogits agree.
template <class Loss>
void expect_same_loss(Context& cpu, Context& gpu, const HostTensor& logits,
                      const BatchLabels& labels, Loss loss, double sum_tol,
                      const std::string& what) {
  HostTensor grad(logits.shape), sums(Shape{2});  // sums: the loss sum, then the I32 count
  const Tensor g = grad.view();
  loss(cpu, logits.view(),
       Tensor(const_cast<int32_t*>(labels.cpu.data()),
              Shape{static_cast<int64_t>(labels.cpu.size())}),
       &g, Tensor(sums.values.data(), Shape{1}),
       Tensor(reinterpret_cast<int32_t*>(sums.values.data() + 1), Shape{1}));
  const DeviceTensor logits_d(logits), grad_d(logits.shape), sums_d(HostTensor(Shape{2}));
  const Tensor gd = grad_d.view();
  loss(gpu, logits_d.view(), labels.gpu_view(), &gd,
       Tensor(static_cast<float*>(sums_d.buffer.data()), Shape{1}, Device::CUDA),
       Tensor(static_cast<int32_t*>(sums_d.buffer.data()) + 1, Shape{1}, Device::CUDA));
  const HostTensor sums_gpu = sums_d.download();
  EXPECT_NEAR(sums_gpu[0], sums[0], sum_tol) << what;
  int32_t hits_cpu, hits_gpu;
  std::memcpy(&hits_cpu, &sums.values[1], 4);
  std::memcpy(&hits_gpu, &sums_gpu.values[1], 4);
  EXPECT_EQ(hits_gpu, hits_cpu) << what;
  EXPECT_EQ(worst(what + " dlogits", grad_d.download(), grad, 1e-7, 1e-6), "");
}

TEST(GpuVsCpu, BatchAssemblyWithAugmentation) {
  REQUIRE_GPU();
  const ImageDataset data = fused_test::random_images(37, 3);
  Context cpu(Device::CPU), gpu(Device::CUDA);
  DeviceDataset on_cpu(cpu, data, kCifarNorm), on_gpu(gpu, data, kCifarNorm);
  for (DeviceDataset* d : {&on_cpu, &on_gpu}) {
    Rng order(11);
    d->start_epoch(order, 3, true);
    d->set_augment(AugmentConfig{4, true, 8}, 99);
  }
  StepArgs cpu_args(cpu), gpu_args(gpu);
  expect_same_batch(on_cpu, on_gpu, 2, 8, 8, cpu_args, gpu_args, "assembled batch");
}

// Note [random erasing]: the same rectangles and values on both, with crop
// and flip under them, and through the policy's staging path too.
TEST(GpuVsCpu, RandomErasingMakesTheCpuBatch) {
  REQUIRE_GPU();
  const ImageDataset data = fused_test::random_images(37, 6);
  Context cpu(Device::CPU), gpu(Device::CUDA);
  for (const bool policy : {false, true}) {
    AugmentConfig aug{4, true, 0};
    aug.erasing.p = 0.8;
    aug.erasing.value = {0.5, -1.25, 2.0};
    if (policy) aug.policy.kind = kTrivialAugmentWide;
    DeviceDataset on_cpu(cpu, data, kCifarNorm), on_gpu(gpu, data, kCifarNorm);
    for (DeviceDataset* d : {&on_cpu, &on_gpu}) {
      Rng order(12);
      d->start_epoch(order, 1, true);
      d->set_augment(aug, 5, 16);
    }
    StepArgs cpu_args(cpu), gpu_args(gpu);
    expect_same_batch(on_cpu, on_gpu, 1, 16, 16, cpu_args, gpu_args,
                      "erased batch " + aug.describe());
  }
}

// Note [augmentation policies]: the policy kernel (one block per image) and the
// staged assembly make the CPU reference's batch, for each policy, with
// crop, flip, cutout and CutMix around it.
TEST(GpuVsCpu, AugmentationPoliciesMakeTheCpuBatch) {
  REQUIRE_GPU();
  const ImageDataset data = fused_test::random_images(41, 5);
  Context cpu(Device::CPU), gpu(Device::CUDA);
  for (const int32_t kind : {kTrivialAugmentWide, kRandAugment, kAutoAugment}) {
    AugmentConfig aug{4, true, 8};
    aug.policy.kind = kind;
    if (kind == kRandAugment) aug.cutmix = 1.0;
    const int64_t n = 16;
    DeviceDataset on_cpu(cpu, data, kCifarNorm), on_gpu(gpu, data, kCifarNorm);
    for (DeviceDataset* d : {&on_cpu, &on_gpu}) {
      Rng order(13);
      d->start_epoch(order, 2, true);
      d->set_augment(aug, 17, n);
    }
    StepArgs cpu_args(cpu), gpu_args(gpu);
    expect_same_batch(on_cpu, on_gpu, 1, n, aug.mixes() ? 2 * n : n, cpu_args, gpu_args,
                      "policy batch " + aug.describe());
  }
}

// Note [batch mixing]: MixUp and CutMix batches (the neighbours' labels after
// the batch's own), with crop, flip and cutout under them, and the loss of
// their mixed targets.
TEST(GpuVsCpu, MixedBatchesAndTheirLoss) {
  REQUIRE_GPU();
  const ImageDataset data = fused_test::random_images(29, 4);
  Rng rng(4);
  Context cpu(Device::CPU), gpu(Device::CUDA);
  AugmentConfig mixup{4, true, 8}, cutmix{4, true, 0};
  mixup.mixup = 0.4;
  cutmix.cutmix = 1.0;
  for (const AugmentConfig& aug : {mixup, cutmix}) {
    DeviceDataset on_cpu(cpu, data, kCifarNorm), on_gpu(gpu, data, kCifarNorm);
    for (DeviceDataset* d : {&on_cpu, &on_gpu}) {
      Rng order(12);
      d->start_epoch(order, 1, true);
      d->set_augment(aug, 7);
    }
    const int64_t n = 8;
    StepArgs cpu_args(cpu), gpu_args(gpu);
    const BatchLabels labels = expect_same_batch(on_cpu, on_gpu, 1, n, 2 * n, cpu_args, gpu_args,
                                                 "mixed batch " + aug.describe());
    ASSERT_NE(cpu_args.next().batch.mix_mode, kNoMix) << aug.describe();
    // The loss of the mixed targets, with label smoothing, lambda from the step's arguments.
    expect_same_loss(
        cpu, gpu, random_tensor(rng, Shape{n, 10}, -4, 4), labels,
        [&](Context& ctx, const Tensor& logits, const Tensor& l, const Tensor* dlogits,
            const Tensor& sum, const Tensor& correct) {
          const StepArgs& args = ctx.device() == Device::CPU ? cpu_args : gpu_args;
          ops::mixed_softmax_cross_entropy(ctx, logits, l, args.mix_lambda(), 0.1f, nullptr,
                                           dlogits, sum, correct);
        },
        1e-5, "mixed " + aug.describe());
  }
}

TEST(GpuVsCpu, SoftmaxCrossEntropyAndSgd) {
  REQUIRE_GPU();
  Context cpu(Device::CPU), gpu(Device::CUDA);
  Rng rng(5);
  const HostTensor logits = random_tensor(rng, Shape{37, 10}, -4, 4);
  BatchLabels labels{std::vector<int32_t>(37), Buffer(Device::CUDA, 37 * sizeof(int32_t))};
  for (auto& l : labels.cpu) l = static_cast<int32_t>(rng.below(10));
  copy_tensor(Tensor(labels.cpu.data(), Shape{37}), labels.gpu_view());
  expect_same_loss(
      cpu, gpu, logits, labels,
      [](Context& ctx, const Tensor& x, const Tensor& l, const Tensor* dlogits, const Tensor& sum,
         const Tensor& correct) {
        ops::softmax_cross_entropy(ctx, x, l, 0.1f, nullptr, dlogits, sum, correct);
      },
      1e-6, "softmax cross-entropy");

  SgdHyper h{0.01f, 0.9f, 0.1f, 5e-4f, false, 1.0f, 0};
  HostTensor p = random_tensor(rng, Shape{1000}), gr = random_tensor(rng, Shape{1000}),
             m(Shape{1000});
  const DeviceTensor p_d(p), g_d(gr), m_d(m);
  StepArgs gpu_args(gpu);
  for (int first : {1, 0}) {
    h.first_step = first;
    gpu_args.next().sgd = h;
    gpu_args.upload();
    ops::sgd_update(cpu, &h, nullptr, p.view(), gr.view(), m.view());
    ops::sgd_update(gpu, gpu_args.sgd(), nullptr, p_d.view(), g_d.view(), m_d.view());
  }
  EXPECT_EQ(worst("sgd params", p_d.download(), p, 0, 0), "");  // same rounding, bit for bit

  // Adam after 3 steps that dynamic loss scaling skipped (Note [skipped
  // steps]): the kernel recomputes the bias corrections on the device.
  OptimizerConfig adam;
  adam.type = "adam";
  HostTensor ap = random_tensor(rng, Shape{1000}), am(Shape{1000}), av(Shape{1000});
  const DeviceTensor ap_d(ap), am_d(am), av_d(av);
  LossScaleState state;
  state.scale = 1024.0f;
  state.skipped = 3;
  LossScaler scaler(gpu, 1024.0, true, 2000);
  scaler.restore(state);
  for (int64_t t : {4, 5}) {  // the host counts every step
    const AdamHyper ah = adam.adam(0.01, 0.9, t);
    gpu_args.next().adam = ah;
    gpu_args.upload();
    ops::adam_update(cpu, &ah, &state, ap.view(), gr.view(), am.view(), av.view(), nullptr);
    ops::adam_update(gpu, gpu_args.adam(), scaler.skipping(), ap_d.view(), g_d.view(), am_d.view(),
                     av_d.view(), nullptr);
  }
  EXPECT_EQ(worst("adam params after skipped steps", ap_d.download(), ap, 0, 1e-6), "");
}

TEST(GpuVsCpu, PyTorchFixturesOnTheGpu) {
  REQUIRE_GPU();
  for (const std::string& recipe : parity_recipes())
    for (const auto& p : run_parity(Device::CUDA, recipe)) ADD_FAILURE() << p;
  for (const char* fixture : kNetworkParityFixtures)
    for (const auto& p : run_network_parity(Device::CUDA, fixture))
      ADD_FAILURE() << fixture << ": " << p;
}

// The whole tutorial network, same weights and batches, K steps: the same
// losses; with `graph`, every step after the first replays one captured CUDA graph.
struct TrainOptions {
  bool graph = false;  // steps after the first replay one captured CUDA graph
  bool relu_fusion = true;
  bool deterministic = false;  // heuristic, bit-reproducible cuDNN algorithms
  double clip_grad_norm = 0;   // training.clip_grad_norm; 0 = off
  double ema_decay = 0;        // training.ema_decay; 0 = off
  std::vector<float>* final_weights = nullptr;
  std::vector<float>* final_average = nullptr;  // with ema_decay: the averaged weights
  // cudaMemGetInfo's free bytes after the first step minus after the last:
  // memory taken inside steps, by us or inside cuDNN/cuBLAS.
  int64_t* free_bytes_lost = nullptr;
};

std::vector<double> train_losses(Device device, int steps, int64_t* allocations_in_steps,
                                 const TrainOptions& options = {}) {
  const bool graph = options.graph;
  Config config = Config::from_json(parse_json_text(Config::embedded_default(), "simplecnn.json"),
                                    "simplecnn.json");
  Context ctx(device, 1, options.deterministic);
  Network net = Network::from_json(config.network, "simplecnn.json");
  net.set_relu_fusion(options.relu_fusion);
  net.setup(ctx, {4});
  Rng rng(21);
  net.initialize(rng);
  const auto optimizer = Optimizer::create(ctx, net, config.training.optimizer);
  const StepRates rates{config.training.optimizer.lr, config.training.optimizer.momentum};
  ImageDataset data;
  data.count = 4 * steps;
  for (int64_t i = 0; i < data.count * 3072; ++i)
    data.pixels.push_back(static_cast<uint8_t>(rng.below(256)));
  for (int64_t i = 0; i < data.count; ++i) data.labels.push_back(static_cast<int32_t>(i % 10));
  DeviceDataset dataset(ctx, data, Normalization(config.data.mean, config.data.std));
  Buffer labels(ctx.device(), 4 * sizeof(int32_t));
  const Tensor label_view(static_cast<int32_t*>(labels.data()), Shape{4}, ctx.device());
  LossMeter meter(ctx);
  StepArgs args(ctx);
  StepGraph step_graph(ctx);
  std::unique_ptr<GradientClipper> clipper;
  if (options.clip_grad_norm > 0)
    clipper = std::make_unique<GradientClipper>(ctx, options.clip_grad_norm);
  std::unique_ptr<WeightAverage> average;
  if (options.ema_decay > 0)
    average = std::make_unique<WeightAverage>(ctx, net, options.ema_decay, false);
  std::vector<double> losses;
  auto enqueue = [&] {
    dataset.assemble(args.batch(), net.input(4), label_view);
    const Tensor logits = net.forward(4);
    const Tensor dlogits = net.output_grad(4);
    ops::softmax_cross_entropy(ctx, logits, label_view, 0.0f, nullptr, &dlogits, meter.loss_sum(),
                               meter.correct());
    net.backward(4);
    if (clipper) clipper->clip(net.flat_gradients());
    optimizer->apply(net, args);
    if (average) average->apply(net);  // its first update (a copy) is step 0's, eager
  };
#ifdef CNNE_WITH_CUDA
  const int64_t before = cuda::device_allocation_count();
#endif
  for (int k = 0; k < steps; ++k) {
    meter.reset();
    args.next().batch = dataset.batch_args(k, 4);
    optimizer->write_step(args.next(), rates);
    args.upload();
    if (graph && k > 0) {  // like the trainer: the first step runs eagerly
      if (!step_graph.captured()) step_graph.capture(enqueue);
      step_graph.replay();
    } else {
      enqueue();
    }
    optimizer->count_step();
    if (average) average->count_update();
    losses.push_back(meter.read().loss_sum);
#ifdef CNNE_WITH_CUDA
    if (options.free_bytes_lost && device == Device::CUDA && (k == 0 || k == steps - 1)) {
      size_t free = 0, total = 0;
      cudaMemGetInfo(&free, &total);
      if (k == 0) *options.free_bytes_lost = static_cast<int64_t>(free);
      if (k == steps - 1) *options.free_bytes_lost -= static_cast<int64_t>(free);
    }
#endif
  }
  if (options.final_weights) *options.final_weights = net.download_parameters();
  if (options.final_average && average) {
    average->exchange(net);
    *options.final_average = net.download_parameters();
    average->exchange(net);
  }
#ifdef CNNE_WITH_CUDA
  if (allocations_in_steps) *allocations_in_steps = cuda::device_allocation_count() - before;
#else
  (void)allocations_in_steps;
#endif
  return losses;
}

TEST(GpuVsCpu, WholeNetworkSameLossesForKSteps) {
  REQUIRE_GPU();
  int64_t allocations = -1;
  const auto cpu = train_losses(Device::CPU, 30, nullptr);
  const auto gpu = train_losses(Device::CUDA, 30, &allocations);
  ASSERT_EQ(cpu.size(), gpu.size());
  for (size_t k = 0; k < cpu.size(); ++k) EXPECT_NEAR(gpu[k], cpu[k], 1e-4 + 1e-4 * cpu[k]) << k;
  EXPECT_EQ(allocations, 0) << "device allocations inside training steps";
}

// Fused and unfused ReLUs on the GPU: the same training to rounding (the
// fused linear adds its bias after the GEMM, the unfused one inside it).
TEST(GpuVsCpu, FusedReluTrainsLikeUnfused) {
  REQUIRE_GPU();
  TrainOptions apart_options;
  apart_options.relu_fusion = false;
  const auto fused = train_losses(Device::CUDA, 30, nullptr);
  const auto apart = train_losses(Device::CUDA, 30, nullptr, apart_options);
  ASSERT_EQ(fused.size(), apart.size());
  for (size_t k = 0; k < fused.size(); ++k)
    EXPECT_NEAR(fused[k], apart[k], 1e-4 + 1e-4 * apart[k]) << k;
}

TEST(GpuVsCpu, GraphStepsEqualEagerStepsBitForBit) {
  REQUIRE_GPU();
  std::vector<float> eager_weights, graph_weights;
  // Deterministic mode: the same cuDNN algorithms in both runs, none with atomics.
  TrainOptions eager_options, graph_options;
  eager_options.deterministic = graph_options.deterministic = true;
  eager_options.final_weights = &eager_weights;
  graph_options.final_weights = &graph_weights;
  graph_options.graph = true;
  const auto eager = train_losses(Device::CUDA, 12, nullptr, eager_options);
  const auto graph = train_losses(Device::CUDA, 12, nullptr, graph_options);
  EXPECT_EQ(graph, eager);
  EXPECT_TRUE(graph_weights == eager_weights) << "weights differ after 12 graph vs eager steps";
}

// Gradient clipping under a graph: the norm and coefficient stay on the
// device, so replays clip each step as eager steps do, bit for bit (a fixed
// reduction tree), and as the CPU does to rounding.
TEST(GpuVsCpu, ClippedStepsUnderAGraphEqualEagerStepsAndTheCpu) {
  REQUIRE_GPU();
  TrainOptions eager_options, graph_options;
  eager_options.deterministic = graph_options.deterministic = true;
  eager_options.clip_grad_norm = graph_options.clip_grad_norm = 0.05;  // clips every step
  graph_options.graph = true;
  const auto cpu = train_losses(Device::CPU, 12, nullptr, eager_options);
  const auto eager = train_losses(Device::CUDA, 12, nullptr, eager_options);
  const auto graph = train_losses(Device::CUDA, 12, nullptr, graph_options);
  EXPECT_EQ(graph, eager);
  for (size_t k = 0; k < cpu.size(); ++k) EXPECT_NEAR(eager[k], cpu[k], 1e-4 + 1e-4 * cpu[k]) << k;
  EXPECT_NE(train_losses(Device::CPU, 12, nullptr), cpu) << "clipping changed nothing";
}

// The weight average under a graph: replays average each step as eager steps
// do, bit for bit, and as the CPU does to rounding.
TEST(GpuVsCpu, AveragedWeightsUnderAGraphEqualEagerStepsAndTheCpu) {
  REQUIRE_GPU();
  std::vector<float> cpu_avg, eager_avg, graph_avg;
  TrainOptions cpu_options, eager_options, graph_options;
  eager_options.deterministic = graph_options.deterministic = true;
  cpu_options.ema_decay = eager_options.ema_decay = graph_options.ema_decay = 0.8;
  cpu_options.final_average = &cpu_avg;
  eager_options.final_average = &eager_avg;
  graph_options.final_average = &graph_avg;
  graph_options.graph = true;
  train_losses(Device::CPU, 12, nullptr, cpu_options);
  train_losses(Device::CUDA, 12, nullptr, eager_options);
  train_losses(Device::CUDA, 12, nullptr, graph_options);
  EXPECT_TRUE(graph_avg == eager_avg) << "the average differs after 12 graph vs eager steps";
  ASSERT_EQ(cpu_avg.size(), eager_avg.size());
  for (size_t i = 0; i < cpu_avg.size(); ++i)
    EXPECT_NEAR(eager_avg[i], cpu_avg[i], 1e-5 + 1e-3 * std::fabs(cpu_avg[i])) << i;
}

TEST(GpuVsCpu, NoDeviceMemoryTakenInsideSteps) {
  REQUIRE_GPU();
  // Our allocation counter sees our allocations; cudaMemGetInfo also sees any
  // made inside cuDNN or cuBLAS. Both are measured from the end of the first
  // (warm-up) step to the end of the last, so setup and teardown do not count.
  int64_t allocations = -1, lost = -1;
  TrainOptions options;
  options.free_bytes_lost = &lost;
  train_losses(Device::CUDA, 20, &allocations, options);
  EXPECT_EQ(allocations, 0);
  EXPECT_EQ(lost, 0) << "device bytes taken between step 1 and step 20";
}

}  // namespace
}  // namespace cnne::test
