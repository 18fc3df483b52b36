// Channels-last activations (Note [channels last] in engine/tensor.h). On the
// CPU every op reaches the NCHW reference through exact transposes, so a
// channels-last network must train bit for bit like the NCHW one: that checks
// the plumbing (activation views, weight copies in (K, R, S, C), their
// gradients, batch assembly, the layout conversions). On the GPU the NHWC
// kernels and cuDNN's NHWC convolutions are compared with the CPU's NCHW
// reference.
#include <gtest/gtest.h>

#include <cmath>
#include <sstream>

#include "engine/config.h"
#include "engine/device_dataset.h"
#include "engine/error.h"
#include "engine/half.h"
#include "engine/ops.h"
#include "engine/trainer.h"
#include "layers/batchnorm_partials.h"
#include "tests/test_util.h"

namespace cnne {
namespace {

using test::loss_lines;
using test::TempDir;

// A small ResNet: conv-bn-relu, a residual add after a grouped conv, a
// strided block with a biased conv and a SiLU, a 1x1 strided downsample,
// dropout, global average pooling.
// 40 and 72 channels: not multiples of the NHWC batch norm's 32-channel tiles.
nlohmann::json resnet_config(const char* precision) {
  nlohmann::json j = nlohmann::json::parse(R"({
    "network": {"name": "TinyResNet", "input": [3, 12, 12], "layers": [
      {"type": "conv2d", "name": "conv1", "in_channels": 3, "out_channels": 40, "kernel_size": 3,
       "padding": 1, "bias": false},
      {"type": "batchnorm2d", "name": "bn1", "num_features": 40},
      {"type": "relu", "name": "relu1"},
      {"type": "conv2d", "name": "conv2", "in_channels": 40, "out_channels": 40, "kernel_size": 3,
       "padding": 1, "bias": false, "groups": 4},
      {"type": "batchnorm2d", "name": "bn2", "num_features": 40},
      {"type": "add", "name": "add1", "inputs": ["bn2", "relu1"]},
      {"type": "relu", "name": "relu2"},
      {"type": "conv2d", "name": "conv3", "in_channels": 40, "out_channels": 72, "kernel_size": 3,
       "stride": 2, "padding": 1},
      {"type": "silu", "name": "relu3"},
      {"type": "conv2d", "name": "down", "in_channels": 40, "out_channels": 72, "kernel_size": 1,
       "stride": 2, "bias": false, "inputs": ["relu2"]},
      {"type": "batchnorm2d", "name": "bn_down", "num_features": 72},
      {"type": "add", "name": "add2", "inputs": ["relu3", "bn_down"]},
      {"type": "dropout", "name": "drop", "p": 0.2},
      {"type": "global_avgpool2d", "name": "gap"},
      {"type": "flatten", "name": "flatten"},
      {"type": "linear", "name": "fc", "in_features": 72, "out_features": 10}]},
    "data": {"augment": {"crop_padding": 2, "horizontal_flip": true}},
    "training": {"epochs": 2, "batch_size": 6, "log_every": 2, "seed": 4,
      "optimizer": {"type": "sgd", "lr": 0.05, "momentum": 0.9, "weight_decay": 0.0005}}
  })");
  j["training"]["precision"] = precision;
  return j;
}

ImageDataset small_images(int64_t count, uint64_t seed) {
  return test::random_image_set(count, 3, 12, 12, seed);
}

struct Outcome {
  std::vector<float> weights, buffers;
  std::string log;
  Tensor input;                     // the network's input view (its layout flag)
  std::vector<float> input_memory;  // the last batch, in memory order
};

Outcome train(Device device, const nlohmann::json& json, const ImageDataset& data,
              bool channels_last) {
  Config config = Config::from_json(json, "tiny.json");
  Context ctx(device);
  Network net = Network::from_json(config.network, "tiny.json");
  net.set_precision(config.training.precision);
  net.set_channels_last(channels_last);
  net.setup(ctx, pass_batch_sizes(data.count, config.training.batch_size));
  Rng rng(config.training.seed);
  net.initialize(rng);
  TempDir dir;
  config.training.checkpoint = dir.file("w.safetensors");
  Trainer trainer(ctx, config, net, rng);
  std::ostringstream out;
  trainer.train(data, out);
  Outcome o{net.download_parameters(), net.download_buffers(), out.str(), net.input(5), {}};
  Tensor raw = o.input;
  raw.channels_last = false;
  o.input_memory = download_f32(raw);
  return o;
}

TEST(ChannelsLast, TrainsBitForBitLikeNchwOnTheCpu) {
  const ImageDataset data = small_images(17, 3);  // batches of 6, 6 and 5
  for (const char* precision : {"fp32", "bf16"}) {
    const auto nchw = train(Device::CPU, resnet_config(precision), data, false);
    const auto nhwc = train(Device::CPU, resnet_config(precision), data, true);
    EXPECT_TRUE(nhwc.weights == nchw.weights) << precision;
    EXPECT_TRUE(nhwc.buffers == nchw.buffers) << precision;  // running statistics
    EXPECT_EQ(loss_lines(nhwc.log), loss_lines(nchw.log));
    // ... and the channels-last run really was: its batch sits in NHWC memory.
    EXPECT_TRUE(nhwc.input.channels_last);
    EXPECT_FALSE(nchw.input.channels_last);
    std::vector<float> transposed(nchw.input_memory.size());
    convert_tensor_host(Tensor(const_cast<float*>(nchw.input_memory.data()), nchw.input.shape),
                        Tensor(transposed.data(), nchw.input.shape).with_channels_last(true));
    EXPECT_TRUE(nhwc.input_memory == transposed);
    EXPECT_FALSE(nhwc.input_memory == nchw.input_memory);
    EXPECT_NE(nchw.log.find("Loss: "), std::string::npos) << nchw.log;
  }
}

TEST(ChannelsLast, ConvertMovesEachElementToItsPlace) {
  Context ctx(Device::CPU);
  const Shape s{2, 3, 2, 2};  // (N, C, H, W)
  std::vector<float> nchw(24), nhwc(24), back(24);
  for (int i = 0; i < 24; ++i) nchw[static_cast<size_t>(i)] = static_cast<float>(i);
  const Tensor a(nchw.data(), s), b = Tensor(nhwc.data(), s).with_channels_last(true);
  ops::convert(ctx, a, b);
  // element (n=1, c=2, h=0, w=1): NCHW index 1*12 + 2*4 + 0*2 + 1 = 21; NHWC (1*4 + 0*2 + 1)*3 + 2
  EXPECT_EQ(nhwc[(1 * 4 + 1) * 3 + 2], 21.0f);
  ops::convert(ctx, b, Tensor(back.data(), s));
  EXPECT_EQ(back, nchw);
  // A tensor of one pixel per plane has one layout: the flag stays off.
  EXPECT_FALSE(Tensor(nchw.data(), Shape{4, 6, 1, 1}).with_channels_last(true).channels_last);
  EXPECT_THROW(b.reshaped(Shape{2, 12}), Error);
}

TEST(ChannelsLast, RefusesALayerThatCannotTakeItNamingIt) {
  const Config tutorial =
      Config::from_json(parse_json_text(Config::embedded_default(), "t.json"), "t.json");
  Network net = Network::from_json(tutorial.network, "t.json");
  try {
    net.set_channels_last(true);
    FAIL() << "expected a ConfigError";
  } catch (const ConfigError& e) {
    EXPECT_NE(std::string(e.what()).find("training.channels_last: layer 'pool1' (maxpool2d)"),
              std::string::npos)
        << e.what();
  }
  // Through the CLI, on the CPU too (a config that fails on the GPU fails everywhere).
  TempDir dir;
  test::make_small_cifar(dir, 4, 4);
  const test::RunResult refused =
      test::run_cli("train --device cpu --channels-last --epochs 1 --no-eval --data " +
                    dir.path().string() + " --out " + dir.file("w.safetensors"));
  EXPECT_NE(refused.exit_code, 0);
  EXPECT_NE(refused.err.find("training.channels_last: layer 'pool1' (maxpool2d)"),
            std::string::npos)
      << refused.err;
  // A network that takes it: the CPU keeps NCHW and says so.
  nlohmann::json resnet = resnet_config("fp32");
  resnet["network"]["input"] = {3, 32, 32};  // CIFAR-10 images (global pooling: fc unchanged)
  test::write_text(dir.file("resnet.json"), resnet.dump());
  const test::RunResult r =
      test::run_cli("train " + dir.file("resnet.json") +
                    " --device cpu --channels-last --epochs 1 --no-eval "
                    "--data " +
                    dir.path().string() + " --out " + dir.file("w.safetensors"));
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_NE(r.out.find("Channels-last: for GPUs; the CPU keeps NCHW"), std::string::npos) << r.out;
}

// ---- on the GPU: NHWC kernels and cuDNN's NHWC convolutions against the CPU's NCHW

double max_relative(const std::vector<float>& a, const std::vector<float>& b) {
  double worst = 0;
  for (size_t i = 0; i < a.size() && i < b.size(); ++i)
    worst = std::max(worst, std::abs(double(a[i]) - b[i]) / (1e-3 + std::abs(double(b[i]))));
  return worst;
}

TEST(ChannelsLastGpu, TrainsLikeTheCpu) {
  REQUIRE_GPU();
  const ImageDataset data = small_images(17, 3);
  for (const char* precision : {"fp32", "bf16"}) {
    // Without the dropout: the GPU draws its mask over memory order, NHWC here.
    nlohmann::json json = resnet_config(precision);
    auto& layers = json["network"]["layers"];
    for (size_t i = 0; i < layers.size(); ++i)
      if (layers[i]["name"] == "drop") layers.erase(i);
    const auto cpu = train(Device::CPU, json, data, false);
    const auto gpu = train(Device::CUDA, json, data, true);
    const double tol = std::string(precision) == "fp32" ? 1e-3 : 5e-2;
    EXPECT_LT(max_relative(gpu.weights, cpu.weights), tol) << precision;
    EXPECT_LT(max_relative(gpu.buffers, cpu.buffers), tol) << precision;
  }
}

// A tensor on device d, in the given layout, holding host NCHW values.
struct Placed {
  Buffer buffer;
  Tensor t;
};

Placed place(const std::vector<float>& nchw, Shape s, Device d, bool channels_last) {
  std::vector<float> staged(nchw.size());  // in the target layout
  convert_tensor_host(Tensor(const_cast<float*>(nchw.data()), s),
                      Tensor(staged.data(), s).with_channels_last(channels_last));
  Placed p{Buffer(d, staged.size() * sizeof(float)), Tensor()};
  const Tensor raw(static_cast<float*>(p.buffer.data()), s, d);
  copy_tensor(Tensor(staged.data(), s), raw);
  p.t = raw.with_channels_last(channels_last);
  return p;
}

// The values of t, back in NCHW order on the host.
std::vector<float> fetch(const Tensor& t) {
  std::vector<float> raw(static_cast<size_t>(t.numel())), nchw(raw.size());
  Tensor plain = t;
  plain.channels_last = false;
  copy_tensor(plain, Tensor(raw.data(), t.shape));
  convert_tensor_host(Tensor(raw.data(), t.shape).with_channels_last(t.channels_last),
                      Tensor(nchw.data(), t.shape));
  return nchw;
}

TEST(ChannelsLastGpu, BatchNormAndGlobalPoolingOpsMatchTheCpu) {
  REQUIRE_GPU();
  Context cpu(Device::CPU), gpu(Device::CUDA);
  // 3 channels (a tile mostly empty), 40 (two tiles), 64; odd planes; batch 1
  for (const Shape& s :
       {Shape{4, 3, 5, 7}, Shape{8, 40, 6, 6}, Shape{2, 64, 9, 3}, Shape{1, 40, 4, 4}}) {
    const int64_t c = s[1];
    gpu.reserve_workspace(batchnorm_partial_bytes(s));
    Rng rng(static_cast<uint64_t>(s.numel()));
    std::vector<float> x(static_cast<size_t>(s.numel())), dy(x.size());
    for (float& v : x) v = rng.uniform(-2.0f, 3.0f);
    for (float& v : dy) v = rng.uniform(-1.0f, 1.0f);
    std::vector<float> gamma(static_cast<size_t>(c)), beta(gamma.size()), zeros(gamma.size()),
        ones(gamma.size(), 1.0f);
    for (float& v : gamma) v = rng.uniform(0.5f, 1.5f);
    for (float& v : beta) v = rng.uniform(-0.5f, 0.5f);
    struct Results {
      std::vector<float> y, dx, dgamma, dbeta, mean, var, inference, pooled, unpooled;
    };
    auto run = [&](Context& ctx, bool channels_last) {
      const Device d = ctx.device();
      const Shape cs{c};
      Placed xt = place(x, s, d, channels_last), dyt = place(dy, s, d, channels_last),
             yt = place(x, s, d, channels_last), dxt = place(x, s, d, channels_last),
             gt = place(gamma, cs, d, false), bt = place(beta, cs, d, false),
             rm = place(zeros, cs, d, false), rv = place(ones, cs, d, false),
             sm = place(zeros, cs, d, false), si = place(zeros, cs, d, false),
             dg = place(zeros, cs, d, false), db = place(zeros, cs, d, false);
      Results r;
      ops::batchnorm_forward_training(ctx, xt.t, gt.t, bt.t, 0.1f, 1e-5f, rm.t, rv.t, sm.t, si.t,
                                      FusedActivation::kNone, yt.t);
      r.y = fetch(yt.t);
      ops::batchnorm_backward(ctx, xt.t, dyt.t, gt.t, sm.t, si.t, 1e-5f, dxt.t, dg.t, db.t);
      r.dx = fetch(dxt.t);
      r.dgamma = fetch(dg.t);
      r.dbeta = fetch(db.t);
      r.mean = fetch(rm.t);
      r.var = fetch(rv.t);
      ops::batchnorm_forward_inference(ctx, xt.t, gt.t, bt.t, rm.t, rv.t, 1e-5f,
                                       FusedActivation::kRelu, yt.t);
      r.inference = fetch(yt.t);
      Placed pooled =
          place(std::vector<float>(static_cast<size_t>(s[0] * c)), Shape{s[0], c, 1, 1}, d, false);
      ops::global_avgpool_forward(ctx, xt.t, pooled.t);
      r.pooled = fetch(pooled.t);
      ops::global_avgpool_backward(ctx, pooled.t, dxt.t);
      r.unpooled = fetch(dxt.t);
      return r;
    };
    const Results want = run(cpu, false), got = run(gpu, true);
    const std::string at = s.str();
    EXPECT_LT(max_relative(got.y, want.y), 1e-5) << at;
    EXPECT_LT(max_relative(got.dx, want.dx), 1e-4) << at;
    EXPECT_LT(max_relative(got.dgamma, want.dgamma), 1e-5) << at;
    EXPECT_LT(max_relative(got.dbeta, want.dbeta), 1e-5) << at;
    EXPECT_LT(max_relative(got.mean, want.mean), 1e-5) << at;
    EXPECT_LT(max_relative(got.var, want.var), 1e-5) << at;
    EXPECT_LT(max_relative(got.inference, want.inference), 1e-5) << at;
    EXPECT_LT(max_relative(got.pooled, want.pooled), 1e-6) << at;
    EXPECT_LT(max_relative(got.unpooled, want.unpooled), 1e-6) << at;
  }
}

// GroupNorm's kernels in channels-last (a group's channels side by side at
// each pixel; dgamma/dbeta on tiles of 32 channels) against the CPU's NCHW.
TEST(ChannelsLastGpu, GroupNormOpsMatchTheCpu) {
  REQUIRE_GPU();
  Context cpu(Device::CPU), gpu(Device::CUDA);
  struct Case {
    Shape s;
    int64_t groups;
  };
  for (const Case& c : {Case{Shape{4, 6, 5, 7}, 2}, Case{Shape{2, 40, 6, 6}, 8},
                        Case{Shape{3, 64, 4, 4}, 64}, Case{Shape{1, 36, 9, 3}, 1}}) {
    const Shape& s = c.s;
    const Shape cs{s[1]}, stats{s[0], c.groups};
    Rng rng(static_cast<uint64_t>(s.numel()));
    std::vector<float> x(static_cast<size_t>(s.numel())), dy(x.size());
    for (float& v : x) v = rng.uniform(-2.0f, 3.0f);
    for (float& v : dy) v = rng.uniform(-1.0f, 1.0f);
    std::vector<float> gamma(static_cast<size_t>(s[1])), beta(gamma.size()), zeros(gamma.size()),
        stat_zeros(static_cast<size_t>(stats.numel()));
    for (float& v : gamma) v = rng.uniform(0.5f, 1.5f);
    for (float& v : beta) v = rng.uniform(-0.5f, 0.5f);
    struct Results {
      std::vector<float> y, dx, dgamma, dbeta, mean, rstd;
    };
    auto run = [&](Context& ctx, bool channels_last) {
      const Device d = ctx.device();
      Placed xt = place(x, s, d, channels_last), dyt = place(dy, s, d, channels_last),
             yt = place(x, s, d, channels_last), dxt = place(x, s, d, channels_last),
             gt = place(gamma, cs, d, false), bt = place(beta, cs, d, false),
             dg = place(zeros, cs, d, false), db = place(zeros, cs, d, false),
             mean = place(stat_zeros, stats, d, false), rstd = place(stat_zeros, stats, d, false);
      Results r;
      ops::groupnorm_forward(ctx, c.groups, 1e-5f, xt.t, &gt.t, &bt.t, mean.t, rstd.t,
                             FusedActivation::kRelu, yt.t);
      r.y = fetch(yt.t);
      ops::groupnorm_backward(ctx, c.groups, xt.t, dyt.t, &gt.t, mean.t, rstd.t, dxt.t, &dg.t,
                              &db.t);
      r.dx = fetch(dxt.t);
      r.dgamma = fetch(dg.t);
      r.dbeta = fetch(db.t);
      r.mean = fetch(mean.t);
      r.rstd = fetch(rstd.t);
      return r;
    };
    const Results want = run(cpu, false), got = run(gpu, true);
    const std::string at = s.str() + " groups " + std::to_string(c.groups);
    EXPECT_LT(max_relative(got.y, want.y), 1e-5) << at;
    EXPECT_LT(max_relative(got.dx, want.dx), 1e-4) << at;
    EXPECT_LT(max_relative(got.dgamma, want.dgamma), 1e-5) << at;
    EXPECT_LT(max_relative(got.dbeta, want.dbeta), 1e-5) << at;
    EXPECT_LT(max_relative(got.mean, want.mean), 1e-6) << at;
    EXPECT_LT(max_relative(got.rstd, want.rstd), 1e-6) << at;
  }
}

}  // namespace
}  // namespace cnne
