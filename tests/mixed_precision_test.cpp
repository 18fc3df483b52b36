// Mixed precision (Note [mixed precision] in engine/precision.h): the 16-bit
// conversions, what a network keeps in 16 bits, how close bf16 and fp16
// training stay to fp32 on the CPU reference, what loss scaling buys fp16,
// the config and CLI, and the GPU against the CPU emulation (GPU tests skip
// without a GPU).
#include <gtest/gtest.h>

#include <bit>
#include <cmath>
#include <filesystem>
#include <limits>
#include <regex>
#include <string>

#include "engine/config.h"
#include "engine/device_dataset.h"
#include "engine/error.h"
#include "engine/half.h"
#include "engine/loss_meter.h"
#include "engine/loss_scaler.h"
#include "engine/network.h"
#include "engine/ops.h"
#include "engine/optimizer.h"
#include "engine/optimizer_config.h"
#include "engine/step_args.h"
#include "engine/step_graph.h"
#include "tests/test_util.h"

namespace cnne::test {
namespace {

// ---- conversions ----------------------------------------------------------

TEST(HalfConversion, Bf16WidensAndNarrowsEveryValueExactly) {
  for (uint32_t h = 0; h < 65536; ++h) {
    const float v = bf16_to_float(static_cast<uint16_t>(h));
    if (std::isnan(v)) {
      EXPECT_TRUE(std::isnan(bf16_to_float(float_to_bf16(v)))) << h;
      continue;
    }
    ASSERT_EQ(float_to_bf16(v), h) << "bf16 pattern " << h;
  }
}

TEST(HalfConversion, Bf16RoundsToNearestTiesToEven) {
  const float one = 1.0f, ulp = std::ldexp(1.0f, -7);                         // bf16 spacing at 1
  EXPECT_EQ(bf16_to_float(float_to_bf16(one + ulp / 2)), one);                // tie: to even (1)
  EXPECT_EQ(bf16_to_float(float_to_bf16(one + 3 * ulp / 2)), one + 2 * ulp);  // tie: to even
  EXPECT_EQ(bf16_to_float(float_to_bf16(std::nextafter(one + ulp / 2, 2.0f))), one + ulp);
  EXPECT_EQ(bf16_to_float(float_to_bf16(-(one + ulp / 2))), -one);
  EXPECT_TRUE(std::isinf(bf16_to_float(float_to_bf16(std::numeric_limits<float>::max()))));
  EXPECT_TRUE(std::isinf(bf16_to_float(float_to_bf16(-INFINITY))));
  EXPECT_TRUE(std::isnan(bf16_to_float(float_to_bf16(std::nanf("")))));
  // a NaN whose payload sits in the low bits only must not round into infinity
  EXPECT_TRUE(std::isnan(bf16_to_float(float_to_bf16(std::bit_cast<float>(0x7f800001u)))));
}

TEST(HalfConversion, F16WidensAndNarrowsEveryValueExactly) {
  for (uint32_t h = 0; h < 65536; ++h) {
    const float v = f16_to_float(static_cast<uint16_t>(h));
    if (std::isnan(v)) {
      EXPECT_TRUE(std::isnan(f16_to_float(float_to_f16(v)))) << h;
      continue;
    }
    ASSERT_EQ(float_to_f16(v), h) << "f16 pattern " << h << " value " << v;
  }
}

TEST(HalfConversion, F16RoundsLikeIeee) {
  EXPECT_EQ(float_to_f16(65504.0f), 0x7bffu);  // the largest finite
  EXPECT_EQ(float_to_f16(65519.99f), 0x7bffu);
  EXPECT_EQ(float_to_f16(65520.0f), 0x7c00u);  // halfway to 65536: rounds to even = infinity
  EXPECT_EQ(float_to_f16(std::ldexp(1.0f, -24)), 0x0001u);      // the smallest subnormal
  EXPECT_EQ(float_to_f16(std::ldexp(1.0f, -25)), 0x0000u);      // tie: to even (zero)
  EXPECT_EQ(float_to_f16(3 * std::ldexp(1.0f, -25)), 0x0002u);  // tie: to even (2)
  EXPECT_EQ(float_to_f16(std::ldexp(1.0f, -14)), 0x0400u);      // the smallest normal
  EXPECT_EQ(float_to_f16(1.0f / 3.0f), 0x3555u);
  EXPECT_EQ(float_to_f16(-2.0f), 0xc000u);
  EXPECT_EQ(float_to_f16(1.0f + std::ldexp(1.0f, -11)), 0x3c00u);  // tie at 1: to even
  EXPECT_EQ(float_to_f16(1.0f + 3 * std::ldexp(1.0f, -11)), 0x3c02u);
  EXPECT_EQ(float_to_f16(-0.0f), 0x8000u);
  EXPECT_TRUE(std::isnan(f16_to_float(float_to_f16(std::nanf("")))));
}

#ifdef __FLT16_MAX__
TEST(HalfConversion, F16AgreesWithTheCompilersFloat16) {
  Rng rng(3);
  for (int i = 0; i < 200000; ++i) {
    // magnitudes from 2^-30 to 2^17: subnormals, normals and overflow
    const float v = std::ldexp(rng.uniform(-1.0f, 1.0f), static_cast<int>(rng.below(48)) - 30);
    const _Float16 h = static_cast<_Float16>(v);
    ASSERT_EQ(float_to_f16(v), std::bit_cast<uint16_t>(h)) << v;
  }
}
#endif

TEST(HalfConversion, BulkConversionsAgreeWithTheScalarOnes) {
  // convert_host may take vector instructions (x86 F16C); they must round alike.
  Rng rng(9);
  std::vector<float> values(100003);  // an odd count: vector body and scalar tail
  for (float& v : values)
    v = std::ldexp(rng.uniform(-1.0f, 1.0f), static_cast<int>(rng.below(60)) - 40);
  values[0] = 0.0f;
  values[1] = -0.0f;
  values[2] = INFINITY;
  values[3] = 65520.0f;
  std::vector<uint16_t> bulk(values.size());
  std::vector<float> wide(values.size());
  for (DType t : {DType::BF16, DType::F16}) {
    convert_host(values.data(), DType::F32, bulk.data(), t, values.size());
    convert_host(bulk.data(), t, wide.data(), DType::F32, values.size());
    for (size_t i = 0; i < values.size(); ++i) {
      const uint16_t scalar = t == DType::BF16 ? float_to_bf16(values[i]) : float_to_f16(values[i]);
      ASSERT_EQ(bulk[i], scalar) << dtype_name(t) << " " << values[i];
      const float back = t == DType::BF16 ? bf16_to_float(scalar) : f16_to_float(scalar);
      ASSERT_EQ(std::bit_cast<uint32_t>(wide[i]), std::bit_cast<uint32_t>(back)) << values[i];
    }
  }
}

TEST(HalfConversion, ConvertOpRoundTripsThroughEveryPair) {
  Context ctx(Device::CPU);
  std::vector<float> src = {1.0f, -2.5f, 1.0f / 3.0f, 65504.0f, 1e-6f, 0.0f};
  std::vector<uint16_t> half(src.size());
  std::vector<float> back(src.size());
  for (DType t : {DType::BF16, DType::F16}) {
    Tensor h(reinterpret_cast<uint8_t*>(half.data()), Shape{6});
    h.dtype = t;
    ops::convert(ctx, Tensor(src.data(), Shape{6}), h);
    ops::convert(ctx, h, Tensor(back.data(), Shape{6}));
    for (size_t i = 0; i < src.size(); ++i) {
      const float expected = t == DType::BF16 ? bf16_to_float(float_to_bf16(src[i]))
                                              : f16_to_float(float_to_f16(src[i]));
      EXPECT_EQ(back[i], expected) << dtype_name(t) << " " << src[i];
    }
  }
  std::vector<int32_t> ints(6);
  EXPECT_THROW(ops::convert(ctx, Tensor(src.data(), Shape{6}), Tensor(ints.data(), Shape{6})),
               Error);
  EXPECT_THROW(ops::convert(ctx, Tensor(src.data(), Shape{6}), Tensor(back.data(), Shape{5})),
               Error);
}

// ---- networks in 16 bits ----------------------------------------------------

Config tutorial_config() {
  return Config::from_json(parse_json_text(Config::embedded_default(), "simplecnn.json"),
                           "simplecnn.json");
}

// A small residual network with every kind of layer.
const char* kEveryLayer = R"({"name": "EveryLayer", "input": [3, 12, 12], "layers": [
  {"type": "conv2d", "name": "conv1", "in_channels": 3, "out_channels": 8, "kernel_size": 3,
   "padding": 1},
  {"type": "batchnorm2d", "name": "bn1", "num_features": 8},
  {"type": "relu", "name": "relu1"},
  {"type": "conv2d", "name": "conv2", "in_channels": 8, "out_channels": 8, "kernel_size": 3,
   "padding": 1, "bias": false},
  {"type": "add", "name": "sum", "inputs": ["conv2", "relu1"]},
  {"type": "maxpool2d", "name": "pool", "kernel_size": 2},
  {"type": "avgpool2d", "name": "avg", "kernel_size": 2},
  {"type": "dropout", "name": "drop", "p": 0.25},
  {"type": "global_avgpool2d", "name": "gap"},
  {"type": "flatten", "name": "flat"},
  {"type": "linear", "name": "fc", "in_features": 8, "out_features": 10}]})";

struct TrainRun {
  std::vector<double> losses;
  std::vector<float> first_gradients;  // after the first backward (P)
  std::vector<NamedParam> params;
  std::vector<float> weights;               // after the last step (P)
  std::vector<std::vector<float>> outputs;  // every layer's output after the first forward
  size_t activation_bytes = 0;
};

struct RunOptions {
  Precision precision = Precision::FP32;
  float loss_scale = 1.0f;
  int steps = 20;
  int64_t batch = 8;
  const char* network = nullptr;  // default: the tutorial
  float input_scale = 1.0f;
  Device device = Device::CPU;
  bool graph = false;             // steps after the first replay a captured CUDA graph
  float fc3_weight_scale = 1.0f;  // multiplies the tutorial's fc3.weight (tiny gradients below it)
  bool tf32 = false;              // fp32 convolutions on TF32 tensor cores (GPU)
};

// `steps` SGD steps on fixed random batches from fixed weights, the trainer's way
// (batches assembled from bytes, loss scaled and unscaled).
TrainRun train(const RunOptions& o) {
  Config config = tutorial_config();
  if (o.network) config.network = parse_json_text(o.network, "net.json");
  Context ctx(o.device, 1, true);
  ctx.set_allow_tf32(o.tf32);
  Network net = Network::from_json(config.network, "net.json");
  net.set_precision(o.precision);
  net.setup(ctx, {o.batch});
  Rng rng(11);
  net.initialize(rng);
  if (o.fc3_weight_scale != 1.0f) {
    std::vector<float> weights = net.download_parameters();
    for (const NamedParam& p : net.parameters())
      if (p.name == "fc3.weight")
        for (int64_t i = 0; i < p.shape.numel(); ++i)
          weights[static_cast<size_t>(p.offset + i)] *= o.fc3_weight_scale;
    net.upload_parameters(weights);
  }
  const auto optimizer = Optimizer::create(ctx, net, config.training.optimizer);
  const StepRates rates{0.01, config.training.optimizer.momentum};
  ImageDataset data;
  data.count = o.batch * o.steps;
  const Shape in = net.input_shape();
  data.channels = in[0];
  data.height = in[1];
  data.width = in[2];
  for (int64_t i = 0; i < data.count * in.numel(); ++i)
    data.pixels.push_back(static_cast<uint8_t>(rng.below(256)));
  for (int64_t i = 0; i < data.count; ++i) data.labels.push_back(static_cast<int32_t>(i % 10));
  const double s = o.input_scale;
  DeviceDataset dataset(ctx, data, Normalization({0.5, 0.5, 0.5}, {0.5 / s, 0.5 / s, 0.5 / s}));
  Buffer labels(ctx.device(), sizeof(int32_t) * static_cast<size_t>(o.batch));  // (B) I32
  const Tensor label_view(static_cast<int32_t*>(labels.data()), Shape{o.batch}, ctx.device());
  LossMeter meter(ctx);
  StepArgs args(ctx);
  net.bind_step_key(args.step_key());
  StepGraph graph(ctx);
  LossScaler scaler(ctx, o.loss_scale, false, 2000);  // static, as the tests set it
  TrainRun run;
  auto enqueue = [&] {
    dataset.assemble(args.batch(), net.input(o.batch), label_view);
    const Tensor logits = net.forward(o.batch);
    const Tensor dlogits = net.output_grad(o.batch);
    ops::softmax_cross_entropy(ctx, logits, label_view, 0.0f, scaler.scale(), &dlogits,
                               meter.loss_sum(), meter.correct());
    net.backward(o.batch);
    scaler.unscale(net.flat_gradients());
  };
  for (int k = 0; k < o.steps; ++k) {
    meter.reset();
    StepScalars& scalars = args.next();
    scalars.batch = dataset.batch_args(k, o.batch);
    scalars.step_key = Network::step_key(1, k);
    optimizer->write_step(scalars, rates);
    args.upload();
    if (o.graph && k > 0) {
      if (!graph.captured())
        graph.capture([&] {
          enqueue();
          optimizer->apply(net, args);
        });
      graph.replay();
    } else {
      enqueue();
      if (k == 0) {
        run.first_gradients = download_f32(net.flat_gradients());
        for (size_t i = 0; i < net.layer_count(); ++i)
          run.outputs.push_back(download_f32(net.output_of(i, o.batch)));
      }
      optimizer->apply(net, args);
    }
    optimizer->count_step();
    run.losses.push_back(meter.read().loss_sum);
  }
  run.weights = net.download_parameters();
  run.params = net.parameters();
  run.activation_bytes = net.memory_plan().activations;
  return run;
}

// The relative L2 distance of one parameter's slice.
double tensor_error(const TrainRun& a, const TrainRun& b, size_t i) {
  const NamedParam& p = b.params[i];
  const auto first = a.first_gradients.begin() + p.offset;
  const std::vector<float> x(first, first + p.shape.numel());
  const auto first_b = b.first_gradients.begin() + p.offset;
  const std::vector<float> y(first_b, first_b + p.shape.numel());
  double diff = 0, norm = 0;
  for (size_t k = 0; k < y.size(); ++k) {
    diff += (double(x[k]) - y[k]) * (double(x[k]) - y[k]);
    norm += double(y[k]) * y[k];
  }
  return std::sqrt(diff / std::max(norm, 1e-300));
}

// The relative L2 distance |a - b| / |b|.
double relative_error(const std::vector<float>& a, const std::vector<float>& b) {
  double diff = 0, norm = 0;
  for (size_t i = 0; i < b.size(); ++i) {
    diff += (double(a[i]) - b[i]) * (double(a[i]) - b[i]);
    norm += double(b[i]) * b[i];
  }
  return std::sqrt(diff / std::max(norm, 1e-300));
}

TrainRun train_in(Precision p, RunOptions o = {}) {
  o.precision = p;
  return train(o);
}

TEST(MixedPrecision, ActivationsIn16BitsWeightsGradientsAndOptimizerInF32) {
  const Config config = tutorial_config();
  for (Precision p : {Precision::BF16, Precision::FP16}) {
    Context ctx(Device::CPU);
    Network net = Network::from_json(config.network, "simplecnn.json");
    net.set_precision(p);
    net.setup(ctx, {64});
    const DType half = activation_dtype(p);
    EXPECT_EQ(net.activation_dtype(), half);
    EXPECT_EQ(net.input(64).dtype, half);
    EXPECT_EQ(net.output_grad(64).dtype, half);
    for (size_t i = 0; i < net.layer_count(); ++i)
      EXPECT_EQ(net.output_of(i, 64).dtype, half) << net.layer(i).name();
    EXPECT_EQ(net.flat_parameters().dtype, DType::F32);
    EXPECT_EQ(net.flat_gradients().dtype, DType::F32);
    EXPECT_THROW(net.set_precision(Precision::FP32), Error);  // memory is planned already

    Network fp32 = Network::from_json(config.network, "simplecnn.json");
    Context ctx32(Device::CPU);
    fp32.setup(ctx32, {64});
    // Half the activation bytes, plus the 16-bit weight copies and their gradients.
    const double ratio =
        double(net.memory_plan().activations) / double(fp32.memory_plan().activations);
    EXPECT_GT(ratio, 0.5);
    EXPECT_LT(ratio, 0.6) << precision_name(p);
    EXPECT_EQ(net.memory_plan().parameters, fp32.memory_plan().parameters);
  }
}

TEST(MixedPrecision, Bf16AndFp16TrainingTrackFp32OnTheTutorial) {
  const TrainRun fp32 = train({});
  const TrainRun bf16 = train_in(Precision::BF16), fp16 = train_in(Precision::FP16);
  // bf16 keeps 8 significant bits, fp16 11: fp16 lands closer.
  struct Bound {
    const TrainRun& run;
    const char* name;
    double outputs, gradients, weights;
  };
  for (const Bound& b :
       {Bound{bf16, "bf16", 0.01, 0.06, 0.005}, Bound{fp16, "fp16", 0.002, 0.02, 0.002}}) {
    for (size_t i = 0; i < fp32.outputs.size(); ++i)
      EXPECT_LT(relative_error(b.run.outputs[i], fp32.outputs[i]), b.outputs)
          << b.name << " output of layer " << i;
    EXPECT_LT(relative_error(b.run.first_gradients, fp32.first_gradients), b.gradients) << b.name;
    EXPECT_LT(relative_error(b.run.weights, fp32.weights), b.weights) << b.name;
    for (size_t k = 0; k < fp32.losses.size(); ++k)
      EXPECT_NEAR(b.run.losses[k], fp32.losses[k], 2e-3) << b.name << " step " << k;
    // not fp32 in disguise: the 16-bit rounding is visible
    EXPECT_GT(relative_error(b.run.first_gradients, fp32.first_gradients), 1e-4) << b.name;
  }
  EXPECT_LT(relative_error(fp16.first_gradients, fp32.first_gradients),
            relative_error(bf16.first_gradients, fp32.first_gradients));
}

TEST(MixedPrecision, EveryLayerTypeRunsIn16Bits) {
  RunOptions o;
  o.network = kEveryLayer;
  const TrainRun fp32 = train(o);
  for (Precision p : {Precision::BF16, Precision::FP16}) {
    const TrainRun r = train_in(p, o);
    EXPECT_LT(relative_error(r.first_gradients, fp32.first_gradients), 0.05) << precision_name(p);
    EXPECT_LT(relative_error(r.weights, fp32.weights), 0.01) << precision_name(p);
    EXPECT_NEAR(r.losses.back(), fp32.losses.back(), 5e-3) << precision_name(p);
  }
}

TEST(MixedPrecision, LossScalingKeepsFp16GradientsBelowItsRange) {
  // fc3's weights shrunk 10^4-fold: every gradient below fc3 falls under
  // fp16's smallest normal (6e-5) and mostly under its smallest subnormal.
  RunOptions o;
  o.steps = 1;
  o.batch = 64;
  o.fc3_weight_scale = 1e-4f;
  const TrainRun fp32 = train(o);
  o.precision = Precision::FP16;
  const TrainRun unscaled = train(o);
  o.loss_scale = 1024.0f;
  const TrainRun scaled = train(o);
  o.precision = Precision::BF16;  // bf16 has fp32's range: no scale needed
  o.loss_scale = 1.0f;
  const TrainRun bf16 = train(o);
  for (size_t i = 0; i < fp32.params.size(); ++i) {
    const std::string& name = fp32.params[i].name;
    EXPECT_LT(tensor_error(scaled, fp32, i), 0.1) << name << " with loss scale 1024";
    EXPECT_LT(tensor_error(bf16, fp32, i), 0.25) << name << " in bf16 (8 significant bits)";
    if (name.rfind("fc3.", 0) != 0) {  // below fc3 the unscaled gradients are lost
      EXPECT_GT(tensor_error(unscaled, fp32, i), 0.5) << name << " without loss scaling";
    }
  }
}

// Note [skipped steps]: a step that dynamic loss scaling skips is not counted
// by the optimizers, as in PyTorch (GradScaler leaves optimizer.step() out):
// after k skipped steps the next one is Adam's first (the bias corrections of
// t = 1) and SGD's first (momentum = grad, no dampening), bit for bit.
TEST(MixedPrecision, SkippedStepsAreNotCountedByTheOptimizers) {
  Context ctx(Device::CPU);
  const std::vector<float> p0 = {0.5f, -1.25f, 2.0f}, g = {0.1f, -0.3f, 0.7f};
  const auto tensor = [](std::vector<float>& v) {
    return Tensor(v.data(), Shape{static_cast<int64_t>(v.size())});
  };
  std::vector<float> grads = g;
  for (int skipped : {1, 3}) {
    // Adam: `skipped` skipped steps, then one taken, against one step from scratch.
    OptimizerConfig adam;
    adam.type = "adam";
    std::vector<float> p = p0, m(3, 0.0f), v(3, 0.0f);
    LossScaleState state;
    for (int k = 1; k <= skipped; ++k) {  // overflows: nothing changes
      state.found_inf = 1;
      const AdamHyper h = adam.adam(0.01, 0.9, k);
      ops::adam_update(ctx, &h, &state, tensor(p), tensor(grads), tensor(m), tensor(v), nullptr);
      state.found_inf = 0;
      state.skipped = k;
    }
    EXPECT_EQ(p, p0);
    const AdamHyper taken = adam.adam(0.01, 0.9, skipped + 1);  // the host counts every step
    ops::adam_update(ctx, &taken, &state, tensor(p), tensor(grads), tensor(m), tensor(v), nullptr);
    std::vector<float> q = p0, qm(3, 0.0f), qv(3, 0.0f);
    const AdamHyper first = adam.adam(0.01, 0.9, 1);
    ops::adam_update(ctx, &first, nullptr, tensor(q), tensor(grads), tensor(qm), tensor(qv),
                     nullptr);
    EXPECT_EQ(p, q) << "Adam after " << skipped << " skipped steps";
    EXPECT_EQ(v, qv);
    // and counting the skipped steps would have given another update
    std::vector<float> r = p0, rm(3, 0.0f), rv(3, 0.0f);
    ops::adam_update(ctx, &taken, nullptr, tensor(r), tensor(grads), tensor(rm), tensor(rv),
                     nullptr);
    EXPECT_NE(r, q);

    // SGD with dampening: the first step taken sets momentum = grad.
    OptimizerConfig sgd;
    sgd.momentum = 0.9;
    sgd.dampening = 0.5;
    std::vector<float> sp = p0, sm(3, 0.0f), tp = p0, tm(3, 0.0f);
    SgdHyper sh = sgd.sgd(0.1, 0.9);
    sh.first_step = 0;  // the host's count: not its first step
    sh.step = skipped + 1;
    ops::sgd_update(ctx, &sh, &state, tensor(sp), tensor(grads), tensor(sm));
    SgdHyper fresh = sgd.sgd(0.1, 0.9);
    fresh.first_step = 1;
    ops::sgd_update(ctx, &fresh, nullptr, tensor(tp), tensor(grads), tensor(tm));
    EXPECT_EQ(sp, tp) << "SGD after " << skipped << " skipped steps";
    EXPECT_EQ(sm, g);  // momentum = grad, not (1 - dampening) * grad
  }
}

TEST(MixedPrecision, DynamicLossScaleSkipsOverflowsBacksOffAndGrows) {
  Context ctx(Device::CPU);
  LossScaler scaler(ctx, 8.0, true, 2);  // grows after 2 good steps
  ASSERT_TRUE(scaler.active());
  ASSERT_NE(scaler.skipping(), nullptr);
  const OptimizerConfig sgd;  // lr 0.001, momentum 0.9
  SgdHyper h = sgd.sgd(0.5, 0.0);
  std::vector<float> p = {1, 2, 3}, m = {0, 0, 0};
  auto step = [&](std::vector<float> g) {
    const Tensor gt(g.data(), Shape{3});
    scaler.unscale(gt);
    ops::sgd_update(ctx, &h, scaler.skipping(), Tensor(p.data(), Shape{3}), gt,
                    Tensor(m.data(), Shape{3}));
    scaler.update();
    return g;
  };
  // an overflow: the step leaves the weights alone, the scale halves
  step({8, INFINITY, 8});
  EXPECT_EQ(p, (std::vector<float>{1, 2, 3}));
  LossScaleState s = scaler.read();
  EXPECT_EQ(s.scale, 4.0f);
  EXPECT_EQ(s.skipped, 1);
  EXPECT_EQ(s.found_inf, 0);  // cleared for the next step
  // good steps: the gradients are unscaled (8 / 4 = 2) and applied
  const std::vector<float> g = step({8, 8, 8});
  EXPECT_EQ(g, (std::vector<float>{2, 2, 2}));
  EXPECT_EQ(p, (std::vector<float>{0, 1, 2}));  // p - 0.5 * 2
  EXPECT_EQ(scaler.read().scale, 4.0f);
  step({4, 4, 4});
  s = scaler.read();
  EXPECT_EQ(s.scale, 8.0f);  // 2 good steps in a row: doubled
  EXPECT_EQ(s.good_steps, 0);
  EXPECT_EQ(s.skipped, 1);
  // frozen ranges are neither unscaled nor checked (only [0, 2) trains here)
  std::vector<float> partly = {8, 8, INFINITY};
  scaler.unscale(Tensor(partly.data(), Shape{3}), {{0, 2}});
  EXPECT_EQ(partly, (std::vector<float>{1, 1, INFINITY}));  // 8 / 8
  EXPECT_EQ(scaler.read().found_inf, 0);
  // the scale never grows to infinity
  LossScaleState big;
  big.scale = 0x1p127f;
  scaler.restore(big);
  for (int i = 0; i < 4; ++i) scaler.update();
  EXPECT_EQ(scaler.read().scale, 0x1p127f);
  // a static scaler never skips
  LossScaler fixed(ctx, 4.0, false, 2);
  EXPECT_EQ(fixed.skipping(), nullptr);
  EXPECT_FALSE(LossScaler(ctx, 1.0, false, 2000).active());
}

TEST(MixedPrecision, NanAndInfinityStayVisibleIn16Bits) {
  Context ctx(Device::CPU);
  std::vector<uint16_t> half(4);
  Tensor h(reinterpret_cast<uint8_t*>(half.data()), Shape{4});
  std::vector<float> src = {1.0f, std::nanf(""), 1e6f, -2.0f};  // 1e6 overflows fp16 only
  std::vector<int32_t> count(1, 0);
  for (DType t : {DType::BF16, DType::F16}) {
    h.dtype = t;
    ops::convert(ctx, Tensor(src.data(), Shape{4}), h);
    count[0] = 0;
    ops::count_nonfinite(ctx, h, Tensor(count.data(), Shape{1}));
    EXPECT_EQ(count[0], t == DType::F16 ? 2 : 1) << dtype_name(t);
  }
}

// ---- config and command line --------------------------------------------------

nlohmann::json tutorial_json() {
  return parse_json_text(Config::embedded_default(), "simplecnn.json");
}

TEST(MixedPrecisionConfig, PrecisionAndLossScaleKeys) {
  nlohmann::json j = tutorial_json();
  EXPECT_EQ(Config::from_json(j, "c.json").training.precision, Precision::FP32);
  EXPECT_EQ(Config::from_json(j, "c.json").training.loss_scale, 1.0);
  EXPECT_FALSE(Config::from_json(j, "c.json").training.dynamic_loss_scale);
  j["training"]["precision"] = "fp16";
  Config c = Config::from_json(j, "c.json");
  EXPECT_EQ(c.training.precision, Precision::FP16);
  EXPECT_TRUE(c.training.dynamic_loss_scale);  // fp16's default: GradScaler's
  EXPECT_EQ(c.training.loss_scale, 65536.0);
  EXPECT_EQ(c.training.loss_scale_growth_interval, 2000);
  const Config again = Config::from_json(c.to_json(), "again.json");  // round trip
  EXPECT_EQ(again.training.precision, Precision::FP16);
  EXPECT_EQ(again.training.loss_scale, 65536.0);
  EXPECT_TRUE(again.training.dynamic_loss_scale);
  j["training"]["dynamic_loss_scale"] = false;
  EXPECT_EQ(Config::from_json(j, "c.json").training.loss_scale, 1024.0);  // static default
  j["training"]["loss_scale"] = 128;
  EXPECT_EQ(Config::from_json(j, "c.json").training.loss_scale, 128.0);

  auto error_of = [](const nlohmann::json& bad) {
    try {
      Config::from_json(bad, "c.json");
    } catch (const ConfigError& e) {
      return std::string(e.what());
    }
    return std::string("no error");
  };
  nlohmann::json bad = tutorial_json();
  bad["training"]["precision"] = "fp8";
  EXPECT_NE(error_of(bad).find("c.json: training: key 'precision'"), std::string::npos)
      << error_of(bad);
  EXPECT_NE(error_of(bad).find("expected fp32, bf16 or fp16"), std::string::npos);
  bad["training"]["precision"] = 16;
  EXPECT_NE(error_of(bad).find("precision"), std::string::npos) << error_of(bad);
  bad = tutorial_json();
  bad["training"]["loss_scale"] = 0;
  EXPECT_NE(error_of(bad).find("loss_scale"), std::string::npos) << error_of(bad);
  bad["training"]["loss_scale"] = 1e30;
  EXPECT_NE(error_of(bad).find("must be in [1, 2^24]"), std::string::npos) << error_of(bad);
  bad = tutorial_json();
  bad["training"]["loss_scale_growth_interval"] = 0;
  EXPECT_NE(error_of(bad).find("key 'loss_scale_growth_interval' must be in 1..10^9"),
            std::string::npos)
      << error_of(bad);
  bad = tutorial_json();
  bad["training"]["dynamic_loss_scale"] = "yes";
  EXPECT_NE(error_of(bad).find("dynamic_loss_scale"), std::string::npos) << error_of(bad);
}

TEST(MixedPrecisionConfig, PrecisionFlagCarriesItsLossScale) {
  Config c = Config::from_json(tutorial_json(), "c.json");
  Overrides o;
  o.precision = "fp16";
  apply_overrides(c, o);
  EXPECT_EQ(c.training.precision, Precision::FP16);
  EXPECT_TRUE(c.training.dynamic_loss_scale);
  EXPECT_EQ(c.training.loss_scale, 65536.0);
  o.precision = "bf16";
  apply_overrides(c, o);
  EXPECT_FALSE(c.training.dynamic_loss_scale);
  EXPECT_EQ(c.training.loss_scale, 1.0);
  o.precision = "half";
  EXPECT_THROW(apply_overrides(c, o), UsageError);
}

TEST(MixedPrecisionCli, TrainInBf16SavesF32WeightsThatEvaluateInAnyPrecision) {
  TempDir data, out;
  make_small_cifar(data, 8, 20);
  const std::string ckpt = out.file("bf16.safetensors");
  const std::string common = "--device cpu --data " + data.path().string();
  const RunResult r =
      run_cli("train " + common + " --precision bf16 --epochs 1 --log-every 5 --out " + ckpt);
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_NE(r.out.find("Precision: bf16 activations, fp32 weights"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("Accuracy of the network on the 20 test images"), std::string::npos);
  const Safetensors saved = load_safetensors(ckpt);
  for (const SafetensorsTensor& t : saved.tensors)
    if (t.dtype != DType::I64) {
      EXPECT_EQ(t.dtype, DType::F32) << t.name;
    }
  const RunResult as_saved = run_cli("eval --checkpoint " + ckpt + " " + common);
  ASSERT_EQ(as_saved.exit_code, 0) << as_saved.err;
  EXPECT_NE(as_saved.out.find("bf16 activations"), std::string::npos) << as_saved.out;
  const RunResult in_fp32 = run_cli("eval --checkpoint " + ckpt + " --precision fp32 " + common);
  ASSERT_EQ(in_fp32.exit_code, 0) << in_fp32.err;
  EXPECT_EQ(in_fp32.out.find("bf16 activations"), std::string::npos);

  const RunResult bad = run_cli("train " + common + " --precision fp8 --out " + ckpt);
  EXPECT_EQ(bad.exit_code, 2);
  EXPECT_NE(bad.err.find("--precision is 'fp8', expected fp32, bf16 or fp16"), std::string::npos)
      << bad.err;
  const RunResult bench = run_cli("bench --device cpu --precision fp16 --steps 2 --warmup 1");
  ASSERT_EQ(bench.exit_code, 0) << bench.err;
  EXPECT_NE(bench.out.find("batch 4, fp16, cpu"), std::string::npos) << bench.out;
}

TEST(MixedPrecisionCli, Fp16OverflowStopsWithALossScaleHint) {
  TempDir data, out;
  make_small_cifar(data, 8, 8);
  nlohmann::json j = tutorial_json();
  j["training"]["precision"] = "fp16";
  j["training"]["dynamic_loss_scale"] = false;
  j["training"]["loss_scale"] = 16777216;  // 2^24: the scaled loss gradient passes 65504
  write_text(out.file("c.json"), j.dump());
  const std::string ckpt = out.file("never.safetensors");
  const RunResult r = run_cli("train " + out.file("c.json") + " --device cpu --no-eval --data " +
                              data.path().string() + " --out " + ckpt);
  EXPECT_EQ(r.exit_code, 4) << r.err;
  EXPECT_NE(r.err.find("at epoch 1, batch 1 (step 1)"), std::string::npos) << r.err;
  EXPECT_NE(r.err.find("lower training.loss_scale (now 16777216), use --precision bf16"),
            std::string::npos)
      << r.err;
  EXPECT_FALSE(std::filesystem::exists(ckpt));
}

TEST(MixedPrecisionCli, Fp16DynamicScalingRecoversFromAnOverflowingStart) {
  TempDir data, out;
  make_small_cifar(data, 8, 8);
  nlohmann::json j = tutorial_json();
  j["training"]["precision"] = "fp16";
  j["training"]["loss_scale"] = 16777216;  // 2^24: the first steps overflow and are skipped
  write_text(out.file("c.json"), j.dump());
  const RunResult r = run_cli("train " + out.file("c.json") + " --device cpu --epochs 2 --data " +
                              data.path().string() + " --out " + out.file("m.safetensors"));
  ASSERT_EQ(r.exit_code, 0) << r.err;
  const std::regex re("Loss scale ([0-9.e+]+) after epoch 2 \\(([0-9]+) steps skipped");
  std::smatch m;
  ASSERT_TRUE(std::regex_search(r.out, m, re)) << r.out;
  EXPECT_LT(std::stod(m[1].str()), 16777216.0);  // backed off
  EXPECT_GE(std::stoi(m[2].str()), 1);
  EXPECT_LT(std::stoi(m[2].str()), 20);  // of 20 steps: most were taken
  EXPECT_NE(r.out.find("Accuracy of the network on the 8 test images"), std::string::npos);
}

TEST(MixedPrecisionCli, Fp16DynamicScaleResumesExactly) {
  TempDir data, out;
  make_small_cifar(data, 8, 8);  // 40 images, batch 4: 10 steps per epoch
  nlohmann::json j = tutorial_json();
  j["training"]["precision"] = "fp16";
  j["training"]["loss_scale"] = 16777216;
  j["training"]["loss_scale_growth_interval"] = 3;  // the scale moves both ways in 20 steps
  write_text(out.file("c.json"), j.dump());
  const std::string where = " --device cpu --no-eval --data " + data.path().string();
  const std::string recipe = "train " + out.file("c.json") + " --deterministic --epochs 2" + where;
  const RunResult full = run_cli(recipe + " --out " + out.file("full.safetensors"));
  ASSERT_EQ(full.exit_code, 0) << full.err;
  for (int k : {3, 12}) {
    const std::string path = out.file("part" + std::to_string(k) + ".safetensors");
    const RunResult first =
        run_cli(recipe + " --stop-after-steps " + std::to_string(k) + " --out " + path);
    ASSERT_EQ(first.exit_code, 0) << first.err;
    const RunResult rest = run_cli("train --resume " + path + where);
    ASSERT_EQ(rest.exit_code, 0) << rest.err;
    EXPECT_EQ(digest_of(path), digest_of(out.file("full.safetensors"))) << "stopped at " << k;
    const auto last_scale = [](const std::string& text) {
      const size_t at = text.rfind("Loss scale ");
      return at == std::string::npos ? std::string() : text.substr(at, text.find('\n', at) - at);
    };
    EXPECT_EQ(last_scale(rest.out), last_scale(full.out)) << rest.out;
  }
}

TEST(MixedPrecisionCli, Bf16StopAndResumeEqualsOneRun) {
  TempDir data, out;
  make_small_cifar(data, 8, 8);  // 40 images, batch 4: 10 steps per epoch
  const std::string where = " --device cpu --no-eval --data " + data.path().string();
  const std::string recipe = "train --precision bf16 --deterministic --epochs 2" + where;
  const RunResult full = run_cli(recipe + " --out " + out.file("full.safetensors"));
  ASSERT_EQ(full.exit_code, 0) << full.err;
  const std::string path = out.file("part.safetensors");
  const RunResult first = run_cli(recipe + " --stop-after-steps 7 --out " + path);
  ASSERT_EQ(first.exit_code, 0) << first.err;
  const RunResult rest = run_cli("train --resume " + path + where);  // bf16 from the checkpoint
  ASSERT_EQ(rest.exit_code, 0) << rest.err;
  EXPECT_NE(rest.out.find("Precision: bf16"), std::string::npos) << rest.out;
  const std::string expected = digest_of(out.file("full.safetensors"));
  ASSERT_FALSE(expected.empty());
  EXPECT_EQ(digest_of(path), expected);
  // and bf16 is not fp32: the same recipe in fp32 ends elsewhere
  const RunResult fp32 = run_cli("train --deterministic --epochs 2" + where + " --out " +
                                 out.file("fp32.safetensors"));
  ASSERT_EQ(fp32.exit_code, 0) << fp32.err;
  EXPECT_NE(digest_of(out.file("fp32.safetensors")), expected);
}

// ---- the GPU against the CPU emulation ------------------------------------------

// Each parameter's gradient error, GPU against the CPU emulation and each
// against fp32: where a mismatch comes from.
std::string per_parameter_errors(const TrainRun& gpu, const TrainRun& cpu, const TrainRun& cpu32) {
  std::string text;
  const auto slice = [](const std::vector<float>& all, const NamedParam& p) {
    const auto begin = all.begin() + static_cast<ptrdiff_t>(p.offset);
    return std::vector<float>(begin, begin + static_cast<ptrdiff_t>(p.shape.numel()));
  };
  for (const NamedParam& p : cpu.params) {
    const auto g = slice(gpu.first_gradients, p), c = slice(cpu.first_gradients, p),
               f = slice(cpu32.first_gradients, p);
    char line[200];
    std::snprintf(line, sizeof line, "  %-12s gpu-cpu %.3g  cpu-fp32 %.3g  gpu-fp32 %.3g\n",
                  p.name.c_str(), relative_error(g, c), relative_error(c, f), relative_error(g, f));
    text += line;
  }
  return text;
}

// The GPU in 16 bits should be about as far from the CPU's 16-bit emulation
// as that emulation is from fp32 (both round the same values once; their
// sums run in different orders): the tolerance scales with the format.
void expect_gpu_like_cpu(const TrainRun& gpu, const TrainRun& cpu, const TrainRun& cpu32,
                         const char* what) {
  for (size_t i = 0; i < cpu.outputs.size(); ++i) {
    const double own = relative_error(cpu.outputs[i], cpu32.outputs[i]);
    EXPECT_LT(relative_error(gpu.outputs[i], cpu.outputs[i]), std::max(2 * own, 1e-3))
        << what << ": output of layer " << i;
  }
  const double own = relative_error(cpu.first_gradients, cpu32.first_gradients);
  EXPECT_LT(relative_error(gpu.first_gradients, cpu.first_gradients), std::max(2 * own, 1e-3))
      << what << ": gradients\n"
      << per_parameter_errors(gpu, cpu, cpu32);
  for (size_t k = 0; k < cpu.losses.size(); ++k)
    EXPECT_NEAR(gpu.losses[k], cpu.losses[k], 2e-3) << what << ": step " << k;
}

TEST(MixedPrecisionGpu, EveryLayerIn16BitsMatchesTheCpuEmulation) {
  REQUIRE_GPU();
  RunOptions o;
  o.network = kEveryLayer;
  const TrainRun cpu32 = train(o);
  for (Precision p : {Precision::BF16, Precision::FP16}) {
    o.precision = p;
    o.device = Device::CPU;
    const TrainRun cpu = train(o);
    o.device = Device::CUDA;
    const TrainRun gpu = train(o);
    expect_gpu_like_cpu(gpu, cpu, cpu32, precision_name(p));
  }
}

TEST(MixedPrecisionGpu, TutorialIn16BitsMatchesTheCpuEmulation) {
  REQUIRE_GPU();
  const TrainRun cpu32 = train({});
  for (Precision p : {Precision::BF16, Precision::FP16}) {
    RunOptions o;
    o.precision = p;
    o.loss_scale = p == Precision::FP16 ? 1024.0f : 1.0f;
    const TrainRun cpu = train(o);
    o.device = Device::CUDA;
    expect_gpu_like_cpu(train(o), cpu, cpu32, precision_name(p));
  }
}

// The reference case of the tests below: every layer type (batch norm with
// its fused ReLU, residual add, the pools, dropout) in strict fp32 on the GPU
// against the CPU, 20 steps.
TEST(MixedPrecisionGpu, EveryLayerInFp32MatchesTheCpu) {
  REQUIRE_GPU();
  RunOptions o;
  o.network = kEveryLayer;
  const TrainRun cpu = train(o);
  o.device = Device::CUDA;
  const TrainRun gpu = train(o);
  for (size_t i = 0; i < cpu.outputs.size(); ++i)
    EXPECT_LT(relative_error(gpu.outputs[i], cpu.outputs[i]), 1e-5) << "output of layer " << i;
  EXPECT_LT(relative_error(gpu.first_gradients, cpu.first_gradients), 1e-4)
      << per_parameter_errors(gpu, cpu, cpu);
  for (size_t k = 0; k < cpu.losses.size(); ++k)
    EXPECT_NEAR(gpu.losses[k], cpu.losses[k], 1e-4) << "step " << k;
}

// TF32 convolutions (training.tf32) keep fp32 storage and round the
// convolutions' operands to 10 mantissa bits: close to strict fp32, like
// bf16's 7 bits but nearer.
TEST(MixedPrecisionGpu, Tf32ConvolutionsStayCloseToStrictFp32) {
  REQUIRE_GPU();
  for (const char* network : {static_cast<const char*>(nullptr), kEveryLayer}) {
    RunOptions o;
    o.network = network;
    const TrainRun cpu32 = train(o);
    o.device = Device::CUDA;
    o.tf32 = true;
    const TrainRun gpu = train(o);
    for (size_t i = 0; i < cpu32.outputs.size(); ++i)
      EXPECT_LT(relative_error(gpu.outputs[i], cpu32.outputs[i]), 1e-2) << "output of layer " << i;
    EXPECT_LT(relative_error(gpu.first_gradients, cpu32.first_gradients), 5e-2);
    for (size_t k = 0; k < cpu32.losses.size(); ++k)
      EXPECT_NEAR(gpu.losses[k], cpu32.losses[k], 1e-2) << "step " << k;
  }
}

TEST(MixedPrecisionGpu, Fp16DynamicScaleUnderAGraphMatchesEagerSteps) {
  REQUIRE_GPU();
  TempDir data, out;
  make_small_cifar(data, 40, 8);  // 200 images, batch 4: 50 steps per epoch
  nlohmann::json j = tutorial_json();
  j["training"]["precision"] = "fp16";
  j["training"]["loss_scale"] = 16777216;  // skips, then backs off, inside the graph
  j["training"]["loss_scale_growth_interval"] = 10;
  write_text(out.file("c.json"), j.dump());
  const std::string recipe = "train " + out.file("c.json") +
                             " --device cuda --deterministic --no-eval --data " +
                             data.path().string() + " --out ";
  const RunResult eager = run_cli(recipe + out.file("eager.safetensors") + " --no-graph");
  const RunResult graph = run_cli(recipe + out.file("graph.safetensors") + " --graph");
  ASSERT_EQ(eager.exit_code, 0) << eager.err;
  ASSERT_EQ(graph.exit_code, 0) << graph.err;
  const auto scale_line = [](const std::string& text) {
    const size_t at = text.rfind("Loss scale ");
    return at == std::string::npos ? std::string() : text.substr(at, text.find('\n', at) - at);
  };
  EXPECT_FALSE(scale_line(eager.out).empty()) << eager.out;
  EXPECT_EQ(scale_line(graph.out), scale_line(eager.out));
  EXPECT_EQ(digest_of(out.file("graph.safetensors")), digest_of(out.file("eager.safetensors")));
}

TEST(MixedPrecisionGpu, Bf16GraphStepsEqualEagerSteps) {
  REQUIRE_GPU();
  RunOptions o;
  o.precision = Precision::BF16;
  o.device = Device::CUDA;
  o.steps = 12;
  const TrainRun eager = train(o);
  o.graph = true;
  const TrainRun graph = train(o);
  EXPECT_EQ(graph.losses, eager.losses);
  EXPECT_TRUE(graph.weights == eager.weights) << "weights differ after 12 steps";
}

}  // namespace
}  // namespace cnne::test
