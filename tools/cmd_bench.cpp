// cnnengine bench [CONFIG]: like `caffe time`. Times, after warm-up, each
// layer's forward and backward, the loss and the update, and the whole
// training step, on a synthetic batch already in memory (data loading is not
// timed). CUDA events on the GPU, the steady clock on the CPU.
#include <cstdio>
#include <iostream>

#include "engine/blas_core.h"
#include "engine/config.h"
#include "engine/device_dataset.h"
#include "engine/error.h"
#include "engine/fused_step.h"
#include "engine/gradient_clipper.h"
#include "engine/half.h"
#include "engine/interval_clock.h"
#include "engine/loss_meter.h"
#include "engine/loss_scaler.h"
#include "engine/normalization.h"
#include "engine/ops.h"
#include "engine/optimizer.h"
#include "engine/step_args.h"
#include "engine/step_graph.h"
#include "engine/weight_average.h"
#include "tools/commands.h"
#include "tools/session.h"
#ifdef CNNE_WITH_CUDA
#include "cuda/cuda_context.h"
#endif

namespace cnne::cli {
namespace {

// Slots of the clock: forward i = i, backward i = L + i, then loss, update, whole step.
class LayerTiming : public LayerObserver {
 public:
  LayerTiming(IntervalClock& clock, size_t layers) : clock_(clock), layers_(layers) {}
  void before(size_t i, bool backward) override { clock_.start(backward ? layers_ + i : i); }
  void after(size_t i, bool backward) override { clock_.stop(backward ? layers_ + i : i); }

 private:
  IntervalClock& clock_;
  size_t layers_;
};

double mib(size_t bytes) {
  return static_cast<double>(bytes) / (1024.0 * 1024.0);
}

}  // namespace

int run_bench(int argc, char** argv, int first) {
  std::vector<FlagSpec> flags = {
      {"batch-size", "N", "batch size (default: the config's)"},
      {"steps", "N", "timed steps (default 100)"},
      {"warmup", "N", "untimed steps first (default 10)"},
      {"graph", "", "also time the step captured as a CUDA graph"},
      {"fused-step", "", "also time the fused step (training.fused_step)"},
      {"fused-blocks", "N", "thread blocks of the fused step (GPU; default: auto)"},
      {"no-fusion", "", "run ReLUs as layers of their own"},
      {"precision", "P", "fp32, bf16 or fp16 (training.precision)"}};
  for (auto& f : device_flags()) flags.push_back(f);
  CliArgs args("bench", flags, 1, argc, argv, first);
  if (args.help_requested()) {
    std::cout << args.help_text(
        "[CONFIG] [options]",
        "Times the training step of CONFIG's network (default: the built-in tutorial) on a\n"
        "synthetic batch: each layer's forward and backward, the loss, the update, the whole\n"
        "step, images/s, and the memory it holds. Data loading is not timed.");
    return 0;
  }
  const std::string source =
      args.positionals().empty() ? "<built-in configs/simplecnn.json>" : args.positionals()[0];
  Config config =
      args.positionals().empty()
          ? Config::from_json(parse_json_text(Config::embedded_default(), source), source)
          : Config::load(source);
  Overrides overrides;
  overrides.precision = args.text("precision");
  overrides.tf32 = args.has("tf32");
  overrides.channels_last = args.has("channels-last");
  apply_overrides(config, overrides);
  const int64_t batch = args.integer("batch-size", 1, 65536).value_or(config.training.batch_size);
  const int64_t steps = args.integer("steps", 1, 1000000).value_or(100);
  const int64_t warmup = args.integer("warmup", 0, 1000000).value_or(10);
  const int threads = choose_threads(args);
  const Device device = choose_device(args, std::cout);
  report_cpu_threads(device, threads, std::cout);

  Network net = Network::from_json(config.network, source);
  Context ctx(device, threads);
  ctx.set_allow_tf32(config.training.tf32);
  net.set_relu_fusion(!args.has("no-fusion"));
  net.set_precision(config.training.precision);
  choose_layout(net, config, device, std::cout);
  net.setup(ctx, {batch});
  Rng rng(config.training.seed);
  net.initialize(rng);
  const auto optimizer = Optimizer::create(ctx, net, config.training.optimizer);
  const StepRates rates{config.training.optimizer.lr, config.training.optimizer.momentum_like()};
  const auto smoothing = static_cast<float>(config.training.label_smoothing);
  LossScaler scaler(ctx, config.training.loss_scale, config.training.dynamic_loss_scale,
                    config.training.loss_scale_growth_interval);
  optimizer->set_loss_scaling(scaler.skipping());
  std::unique_ptr<GradientClipper> clipper;  // training.clip_grad_norm: timed with the update
  if (config.training.clip_grad_norm > 0)
    clipper = std::make_unique<GradientClipper>(ctx, config.training.clip_grad_norm);
  std::unique_ptr<WeightAverage> average;  // training.ema_decay: timed with the update
  if (config.training.ema_decay > 0)
    average = std::make_unique<WeightAverage>(ctx, net, config.training.ema_decay,
                                              config.training.ema_buffers);
  LossMeter meter(ctx);
  StepArgs step_args(ctx);  // constant rates: written and uploaded once
  net.bind_step_key(step_args.step_key());
  step_args.next().step_key = Network::step_key(config.training.seed, 0);
  optimizer->write_step(step_args.next(), rates);
  step_args.upload();

  // A synthetic batch: inputs uniform in [-1, 1], labels uniform over the classes.
  const Tensor input = net.input(batch);
  std::vector<float> host_input(static_cast<size_t>(input.numel()));
  for (float& v : host_input) v = rng.uniform(-1.0f, 1.0f);
  upload_f32(host_input, input);
  const int64_t classes = net.output_shape(1)[1];
  std::vector<int32_t> host_labels(static_cast<size_t>(batch));
  for (int32_t& l : host_labels)
    l = static_cast<int32_t>(rng.below(static_cast<uint64_t>(classes)));
  Buffer labels_buffer(ctx.device(), host_labels.size() * sizeof(int32_t));
  const Tensor labels(static_cast<int32_t*>(labels_buffer.data()), Shape{batch}, ctx.device());
  copy_tensor(Tensor(host_labels.data(), Shape{batch}), labels);

  const size_t layers = net.layer_count();
  const size_t loss_slot = 2 * layers, update_slot = loss_slot + 1, step_slot = update_slot + 1;
  auto clock = make_interval_clock(ctx, step_slot + 1);
  auto step = [&](bool timed) {
    if (timed) clock->start(step_slot);
    const Tensor logits = net.forward(batch);
    const Tensor dlogits = net.output_grad(batch);
    if (timed) clock->start(loss_slot);
    ops::softmax_cross_entropy(ctx, logits, labels, smoothing, scaler.scale(), &dlogits,
                               meter.loss_sum(), meter.correct());
    if (timed) clock->stop(loss_slot);
    net.backward(batch);
    scaler.unscale(net.flat_gradients());
    if (timed) clock->start(update_slot);
    if (clipper) clipper->clip(net.flat_gradients());
    optimizer->apply(net, step_args);
    scaler.update();
    if (average) {  // the first update copies; the eager steps before any capture take it
      average->apply(net);
      average->count_update();
    }
    if (timed) {
      clock->stop(update_slot);
      clock->stop(step_slot);
    }
  };
  for (int64_t i = 0; i < warmup; ++i) step(false);
  ctx.synchronize();
  // Whole steps first, without per-layer events in the way; then the layer breakdown.
  for (int64_t i = 0; i < steps; ++i) {
    step(true);
    clock->end_round();
  }
  const double step_ms = clock->totals_ms()[step_slot] / static_cast<double>(steps);
  auto layer_clock = make_interval_clock(ctx, step_slot + 1);
  LayerTiming timing(*layer_clock, layers);
  net.set_observer(&timing);
  std::swap(clock, layer_clock);
  for (int64_t i = 0; i < steps; ++i) {
    step(true);
    clock->end_round();
  }
  net.set_observer(nullptr);
  const std::vector<double> ms = clock->totals_ms();
  const auto per = [&](size_t slot) { return ms[slot] / static_cast<double>(steps); };

  // The same step captured as a CUDA graph and replayed (issue 4).
  double graph_ms = -1;
  StepGraph graph(ctx);
  if (args.has("graph") && graph.supported()) {
    graph.capture([&] { step(false); });
    for (int64_t i = 0; i < warmup; ++i) graph.replay();
    auto graph_clock = make_interval_clock(ctx, 1);
    for (int64_t i = 0; i < steps; ++i) {
      graph_clock->start(0);
      graph.replay();
      graph_clock->stop(0);
      graph_clock->end_round();
    }
    graph_ms = graph_clock->totals_ms()[0] / static_cast<double>(steps);
  }

  // The fused step (Note [fused step]) over a synthetic data set, in runs of
  // up to FusedStep::kMaxSteps steps, as the trainer launches it.
  double fused_ms = -1;
  std::string fused_text;
  std::vector<std::pair<std::string, double>> fused_phases;  // per step
  if (args.has("fused-step")) {
    const std::string why = FusedStep::unsupported_reason(net, config);
    if (!why.empty()) throw UsageError("--fused-step: " + why);
    ImageDataset images;
    images.count = batch * 16;
    images.channels = net.input_shape()[0];
    images.height = net.input_shape()[1];
    images.width = net.input_shape()[2];
    images.pixels.resize(static_cast<size_t>(images.count * images.image_bytes()));
    for (uint8_t& v : images.pixels) v = static_cast<uint8_t>(rng.below(256));
    for (int64_t i = 0; i < images.count; ++i)
      images.labels.push_back(static_cast<int32_t>(rng.below(static_cast<uint64_t>(classes))));
    DeviceDataset dataset(ctx, images, Normalization(config.data.mean, config.data.std));
    Rng order(1);
    dataset.start_epoch(order, 0, true);
    Buffer nonfinite(ctx.device(), sizeof(int32_t));  // (1) I32
    const Tensor nonfinite_count(static_cast<int32_t*>(nonfinite.data()), Shape{1}, ctx.device());
    int32_t zero = 0;
    copy_tensor(Tensor(&zero, Shape{1}), nonfinite_count);
    Config fused_config = config;
    fused_config.training.batch_size = batch;
    FusedStep fused(ctx, net, *optimizer, dataset, fused_config, meter.loss_sum(), meter.correct(),
                    nonfinite_count);
    fused.set_parallelism(args.integer("fused-blocks", 1, 1 << 20).value_or(0));
    auto run_steps = [&](int64_t count) {
      std::vector<FusedStepArgs> run;
      for (int64_t done = 0; done < count;) {
        run.clear();
        for (; done < count && static_cast<int64_t>(run.size()) < FusedStep::kMaxSteps; ++done)
          run.push_back(fused_step_args(dataset, done % 16, batch, *optimizer, rates, 1));
        fused.run(run);
      }
    };
    run_steps(std::max<int64_t>(warmup, 1));
    ctx.synchronize();
    auto fused_clock = make_interval_clock(ctx, 1);
    fused_clock->start(0);
    run_steps(steps);
    fused_clock->stop(0);
    fused_clock->end_round();
    fused_ms = fused_clock->totals_ms()[0] / static_cast<double>(steps);
    fused_text = fused.describe();
    // Then the same steps again, timing each phase (a clock read per barrier).
    fused.set_phase_timing(true);
    run_steps(steps);
    ctx.synchronize();
    for (const auto& [name, total_ms] : fused.phase_times())
      fused_phases.emplace_back(name, total_ms / static_cast<double>(steps));
  }

  char line[200];
  std::snprintf(
      line, sizeof line,
      "cnnengine bench: %s, batch %lld, %s%s, %s%s, %lld warm-up + %lld timed steps\n",
      net.name().c_str(), static_cast<long long>(batch), precision_name(net.precision()),
      config.training.tf32 && net.precision() == Precision::FP32 && device == Device::CUDA
          ? " (TF32 convolutions)"
          : "",
      std::string(device_name(device)).c_str(),
      device == Device::CPU
          ? (", " + std::to_string(threads) + " thread(s), OpenBLAS " + blas_core_name()).c_str()
          : "",
      static_cast<long long>(warmup), static_cast<long long>(steps));
  std::cout << line;
  std::snprintf(line, sizeof line, "%-12s %-10s %12s %12s\n", "layer", "type", "forward ms",
                "backward ms");
  std::cout << line << std::string(50, '-') << "\n";
  double forward = 0, backward = 0;
  for (size_t i = 0; i < layers; ++i) {
    if (net.forward_fused(i))
      std::snprintf(line, sizeof line, "%-12s %-10s %12s %12.4f\n", net.layer(i).name().c_str(),
                    net.layer(i).type().c_str(), "(fused)", per(layers + i));
    else
      std::snprintf(line, sizeof line, "%-12s %-10s %12.4f %12.4f\n", net.layer(i).name().c_str(),
                    net.layer(i).type().c_str(), per(i), per(layers + i));
    std::cout << line;
    forward += per(i);
    backward += per(layers + i);
  }
  std::snprintf(line, sizeof line, "%-12s %-10s %12.4f %12s\n", "loss", "softmax-ce",
                per(loss_slot), "(fused)");
  std::cout << line;
  const std::string update_kind =
      config.training.optimizer.type + (clipper ? "+clip" : "") +
      (average ? "+ema" : "");  // the optimizer, clipping and averaging too
  std::snprintf(line, sizeof line, "%-12s %-10s %12s %12.4f\n", "update", update_kind.c_str(), "",
                per(update_slot));
  std::cout << line << std::string(50, '-') << "\n";
  std::snprintf(line, sizeof line, "%-23s %12.4f %12.4f\n", "layers total", forward, backward);
  std::cout << line;
  std::snprintf(line, sizeof line,
                "step (forward + loss + backward + update): %.4f ms, %.0f images/s\n", step_ms,
                static_cast<double>(batch) * 1000.0 / step_ms);
  std::cout << line;
  if (graph_ms > 0) {
    std::snprintf(line, sizeof line, "step as a CUDA graph: %.4f ms, %.0f images/s\n", graph_ms,
                  static_cast<double>(batch) * 1000.0 / graph_ms);
    std::cout << line;
  } else if (args.has("graph")) {
    std::cout << "step as a CUDA graph: not on this device\n";
  }
  if (fused_ms > 0) {
    std::snprintf(line, sizeof line, "fused step: %.4f ms, %.0f images/s (%s)\n", fused_ms,
                  static_cast<double>(batch) * 1000.0 / fused_ms, fused_text.c_str());
    std::cout << line << "fused step phases (each with the barrier after it), per step:\n";
    double total = 0;
    for (const auto& [name, phase_ms] : fused_phases) {
      std::snprintf(line, sizeof line, "  %-24s %9.2f us\n", name.c_str(), phase_ms * 1000.0);
      std::cout << line;
      total += phase_ms;
    }
    std::snprintf(line, sizeof line, "  %-24s %9.2f us\n", "total (timed run)", total * 1000.0);
    std::cout << line;
  }
  const Network::MemoryPlan plan = net.memory_plan();
  std::snprintf(line, sizeof line,
                "memory on %s: %.2f MiB held at peak (parameters %.2f, gradients %.2f, optimizer "
                "%.2f, activations %.2f, workspace %.2f MiB)\n",
                std::string(device_name(device)).c_str(), mib(memory_peak(device)),
                mib(plan.parameters), mib(plan.gradients), mib(optimizer->state_bytes()),
                mib(plan.activations), mib(ctx.workspace_bytes()));
  std::cout << line;
#ifdef CNNE_WITH_CUDA
  if (device == Device::CUDA) {  // Note [algorithm choice]: what cuDNN chose, and why
    std::cout << "cuDNN convolution algorithms"
              << (ctx.deterministic() ? " (deterministic, heuristic order)"
                                      : " (timed by cudnnFind)")
              << (config.training.tf32 ? ", TF32 allowed" : "") << ":\n";
    for (const std::string& l : cuda::describe_conv_plans(ctx.cuda().plans()))
      std::cout << "  " << l << "\n";
  }
#endif
  return 0;
}

}  // namespace cnne::cli
