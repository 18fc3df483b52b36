#include "engine/trainer.h"

#include <chrono>
#include <cmath>
#include <cstdio>

#include "cuda/nvtx_range.h"
#include "cuda/profiler.h"
#include "engine/device_dataset.h"
#include "engine/error.h"
#include "engine/fused_step.h"
#include "engine/half.h"
#include "engine/interrupt.h"
#include "engine/loss_meter.h"
#include "engine/ops.h"
#include "engine/plateau.h"
#include "engine/step_args.h"
#include "engine/step_graph.h"
#include "engine/swa.h"

namespace cnne {
namespace {

// The first element of device tensor t that is NaN or Inf, or -1.
int64_t first_nonfinite(const Tensor& t) {
  const std::vector<float> host = download_f32(t);
  for (size_t i = 0; i < host.size(); ++i)
    if (!std::isfinite(host[i])) return static_cast<int64_t>(i);
  return -1;
}

}  // namespace

Trainer::Trainer(Context& ctx, const Config& config, Network& net, Rng& rng)
    : ctx_(ctx),
      config_(config),
      net_(net),
      rng_(rng),
      optimizer_(Optimizer::create(ctx, net, config.training.optimizer)),
      scaler_(std::make_unique<LossScaler>(ctx, config.training.loss_scale,
                                           config.training.dynamic_loss_scale,
                                           config.training.loss_scale_growth_interval)),
      saver_(config, net, *optimizer_),
      nonfinite_(ctx.device(), sizeof(int32_t)) {
  if (config.training.clip_grad_norm > 0)
    clipper_ = std::make_unique<GradientClipper>(ctx, config.training.clip_grad_norm);
  if (!config.training.freeze.empty()) {
    trainable_ = net.trainable_ranges(config.training.freeze);
    optimizer_->set_ranges(trainable_);
  }
  if (config.training.ema_decay > 0) {
    average_ = std::make_unique<WeightAverage>(ctx, net, config.training.ema_decay,
                                               config.training.ema_buffers);
    average_->set_ranges(trainable_);
    saver_.set_average(average_.get());
  }
  if (config.training.swa.enabled()) {  // Note [stochastic weight averaging]
    if (const std::string why = swa_refusal(config.training); !why.empty())
      throw ConfigError("training.swa " + why);
    average_ = WeightAverage::equal(ctx, net);
    average_->set_ranges(trainable_);
    saver_.set_average(average_.get());
  }
  optimizer_->set_loss_scaling(scaler_->skipping());
  state_.seed = config.training.seed;
  state_.device = std::string(device_name(ctx.device()));
}

void Trainer::resume(const TrainingState& state, const Safetensors& optimizer,
                     const std::string& path) {
  // Note [averaged weights in checkpoints]: the training weights come from the optimizer file.
  const Safetensors rest = restore_training_weights(optimizer, path, net_, average_.get());
  optimizer_->import_state(rest, path, net_);
  state_ = state;
  resumed_ = true;
  if (!scaler_->dynamic()) {  // this run does not scale dynamically: nothing to carry on
    state_.loss_scale = 0;
    state_.loss_scale_good_steps = state_.skipped_steps = 0;
  } else if (state.loss_scale > 0) {  // continue with the scale it reached
    LossScaleState s;
    s.scale = static_cast<float>(state.loss_scale);
    s.good_steps = static_cast<int32_t>(state.loss_scale_good_steps);
    s.skipped = static_cast<int32_t>(state.skipped_steps);
    scaler_->restore(s);
  }
  state_.device = std::string(device_name(ctx_.device()));
  state_.test_accuracy = state_.validation_accuracy = -1;
}

Tensor Trainer::nonfinite() const {
  return Tensor(static_cast<int32_t*>(nonfinite_.data()), Shape{1}, ctx_.device());
}

void Trainer::check_graph_finite(const TrainingState& state) {
  int32_t bad = 0;
  copy_tensor(nonfinite(), Tensor(&bad, Shape{1}));
  if (bad == 0) return;
  throw NumericalError(
      "non-finite values: " + std::to_string(bad) +
      (scaler_->dynamic() ? " steps had a NaN/Inf loss" : " gradient elements were NaN/Inf") +
      " in the steps up to step " + std::to_string(state.steps) + " (epoch " +
      std::to_string(state.epochs_completed + 1) +
      "); under a CUDA graph or the fused step the check runs at log lines, so the "
      "weights may already hold them. Checkpoints on disk are left as they were; "
      "rerun with --no-graph --no-fused-step to find the step and layer. " +
      remedy());
}

void Trainer::check_finite(const TrainingState& state, int64_t n, double running_loss) {
  // The count is zero here: train() starts it at zero, this check leaves it
  // so, and the graph steps' count is read (and throws if nonzero) before an
  // eager step (Note [numerical checks under a graph]).
  const Tensor count = nonfinite();
  int32_t zero = 0, bad = 0;
  ops::count_nonfinite(ctx_, net_.flat_gradients(), count);  // adds
  copy_tensor(count, Tensor(&bad, Shape{1}));
  // Back to zero for the graph steps: under dynamic scaling an eager step's
  // skipped gradients must not be read later as their NaN/Inf losses.
  copy_tensor(Tensor(&zero, Shape{1}), count);
  // Under dynamic loss scaling a NaN/Inf gradient only skips the step; a
  // non-finite loss (the forward pass overflowed) still stops the run.
  if ((bad == 0 || scaler_->dynamic()) && std::isfinite(running_loss)) return;

  // Where did it start? The first layer (forward order) whose output is not
  // finite, else the last parameter (backward order) whose gradient is not.
  std::string where;
  for (size_t i = 0; i < net_.layer_count() && where.empty(); ++i)
    if (first_nonfinite(net_.output_of(i, n)) >= 0)
      where = "the output of layer '" + net_.layer(i).name() + "' (" + net_.layer(i).type() + ")";
  for (size_t i = net_.parameters().size(); i-- > 0 && where.empty();)
    if (first_nonfinite(net_.gradient(i)) >= 0)
      where = "the gradient of " + net_.parameters()[i].name;
  if (where.empty()) where = "the loss";
  char line[160];
  std::snprintf(
      line, sizeof line,
      "at epoch %lld, batch %lld (step %lld): ", static_cast<long long>(state.epochs_completed + 1),
      static_cast<long long>(state.batches_done + 1), static_cast<long long>(state.steps + 1));
  const std::string loss = std::isfinite(running_loss) ? "finite"
                           : std::isnan(running_loss)  ? "NaN"
                           : running_loss > 0          ? "+Inf"
                                                       : "-Inf";
  throw NumericalError(std::string("non-finite values ") + line + "the loss is " + loss + ", " +
                       std::to_string(bad) + " gradient elements are NaN/Inf; first in " + where +
                       ". Stopped before the update; checkpoints on disk are left as they were. " +
                       remedy());
}

void Trainer::read_loss_scale(TrainingState& state) {
  if (!scaler_->dynamic()) return;
  const LossScaleState s = scaler_->read();
  state.loss_scale = s.scale;
  state.loss_scale_good_steps = s.good_steps;
  state.skipped_steps = s.skipped;
  // Halved at every skipped step: below 2^-24 no gradient is finite at any
  // scale, so the forward pass itself must be overflowing fp16.
  if (!(s.scale >= 0x1p-24f) || !std::isfinite(s.scale)) {
    char scale[32];
    std::snprintf(scale, sizeof scale, "%g", static_cast<double>(s.scale));
    throw NumericalError(std::string("fp16 loss scaling: the scale fell to ") + scale + " after " +
                         std::to_string(s.skipped) + " skipped steps up to step " +
                         std::to_string(state.steps) +
                         ": the gradients are NaN/Inf at any scale (activations beyond fp16's "
                         "65504?). Checkpoints on disk are left as they were; use --precision "
                         "bf16 or lower the learning rate");
  }
}

std::string Trainer::remedy() const {
  const TrainingConfig& tc = config_.training;
  if (tc.precision == Precision::FP16 && tc.dynamic_loss_scale)
    return "In fp16 the forward pass may overflow (activations beyond 65504): use --precision "
           "bf16, or lower the learning rate";
  if (tc.precision == Precision::FP16 && tc.loss_scale > 1) {
    char scale[32];
    std::snprintf(scale, sizeof scale, "%.10g", tc.loss_scale);
    return std::string(
               "In fp16 the scaled gradients may have overflowed: lower "
               "training.loss_scale (now ") +
           scale + "), use --precision bf16, or lower the learning rate";
  }
  return "Lower the learning rate?";
}

int64_t Trainer::fused_run_end(int64_t b, int64_t batches, int64_t steps_done) const {
  const TrainingConfig& tc = config_.training;
  int64_t end = std::min(batches, b + FusedStep::kMaxSteps);
  end = std::min(end, (b / tc.log_every + 1) * tc.log_every);  // a log line reads the meters
  // The run ends when the step count reaches `step` (the host acts after it).
  auto end_at_step = [&](int64_t step) {
    if (step > steps_done) end = std::min(end, b + (step - steps_done));
  };
  if (tc.checkpoint_every_steps > 0)
    end_at_step((steps_done / tc.checkpoint_every_steps + 1) * tc.checkpoint_every_steps);
  if (stop_after_ > 0) end_at_step(std::max(stop_after_, steps_done + 1));  // passed: one step
  if (profile_first_ > 0) end_at_step(profile_first_ - 1);
  if (profile_last_ > 0) end_at_step(profile_last_);
  return end;
}

// Note [gradient accumulation]: with training.accumulate_steps K, an
// optimizer step takes K batches (Caffe's iter_size; PyTorch's loop dividing
// each loss by K and calling optimizer.step() every K backward passes). Each
// batch's backward writes the flat gradient as always; all but the group's
// last add it to a sum buffer, and the last computes
// gradient = (sum + gradient) / m, m the group's batches, so the step sees the
// mean of their batch-mean gradients: with full groups, the gradient of one
// batch of K * batch_size images, except that BatchNorm normalizes each batch
// by its own statistics (and updates its running statistics and
// num_batches_tracked per batch, as PyTorch's forward does). The last group of
// an epoch may be short (m < K): its mean is over its m batches, the epoch has
// ceil(batches / K) steps and the step-unit schedules count those. Under fp16
// the sum is of scaled gradients, unscaled once with the step (GradScaler's
// recipe: unscale_ and the skip decision on the accumulated gradient), then
// clipped, applied and averaged. Steps, not batches, are what the step count,
// the schedule, checkpoint_every_steps, --stop-after-steps and --profile-steps
// count; log lines and the loss meters stay per batch. A checkpoint or a stop
// waits for the end of the group, so a checkpoint is never inside one and
// --resume needs no sum. Dropout draws a mask per batch. The steps run
// eagerly: no CUDA graph (a step is then K forward and backward passes, whose
// launch overhead matters less), and the fused step refuses it.
//
// Note [exact resume]: the state at any step is the weights, the optimizer's
// buffers and step count, the epoch and batch position, and the shuffling
// generator's state before the current epoch's shuffle (redrawing it gives
// the same order). With those, a resumed run takes the same steps in the same
// order on the same data and, in deterministic mode, ends bit-identical.
void Trainer::step_plateau(const EvalScore& score, int64_t epoch, LrSchedule& schedule,
                           std::ostream& out) {
  const ScheduleConfig& c = config_.training.schedule;
  const double base_lr = config_.training.optimizer.lr;
  PlateauState& p = state_.plateau;
  const double before = p.lr < 0 ? base_lr : p.lr;
  const bool loss = c.metric == "loss";
  const double metric = loss ? score.mean_loss : score.accuracy;
  if (!plateau_step(c, base_lr, metric, p)) return;
  schedule.set_plateau_lr(p.lr);
  char line[240];
  std::snprintf(line, sizeof line,
                "ReduceLROnPlateau: lr %.6g -> %.6g after epoch %lld (%s %s not better than %.6g "
                "in the last %lld evaluations, patience %lld)\n",
                before, p.lr, static_cast<long long>(epoch), eval_set_.c_str(),
                loss ? "loss" : "accuracy", p.best, static_cast<long long>(c.patience + 1),
                static_cast<long long>(c.patience));
  out << line;
  if (log_)
    log_->write("lr_reduced", {{"epoch", epoch},
                               {"step", state_.steps},
                               {"metric", eval_set_ + (loss ? "_loss" : "_accuracy")},
                               {"value", metric},
                               {"best", p.best},
                               {"lr_before", before},
                               {"lr", p.lr}});
}

TrainingState Trainer::train(const ImageDataset& data, std::ostream& out) {
  const TrainingConfig& tc = config_.training;
  DeviceDataset dataset(ctx_, data, Normalization(config_.data.mean, config_.data.std));
  dataset.set_augment(config_.data.augment, tc.seed, tc.batch_size);
  const int64_t batches = dataset.batches(tc.batch_size);
  // Note [gradient accumulation]: a step per `group` batches (the last of an epoch may be short).
  const int64_t group = tc.accumulate_steps;
  const int64_t steps_per_epoch = (batches + group - 1) / group;
  // (B) I32, or (2, B) I32 when batches are mixed: the labels, then the neighbours' (Note [batch
  // mixing])
  const bool mixing = config_.data.augment.mixes();
  Buffer labels(ctx_.device(),
                sizeof(int32_t) * static_cast<size_t>(tc.batch_size) * (mixing ? 2 : 1));
  StepArgs args(ctx_);
  net_.bind_step_key(args.step_key());
  StepGraph graph(ctx_);
  const bool fused_wanted = tc.fused_step && (ctx_.device() != Device::CPU || fused_on_cpu_);
  const bool use_graph = tc.cuda_graph && !fused_wanted && group == 1 && graph.supported();
  bool graph_warm = false;  // a full batch has run eagerly
  if (tc.cuda_graph && !fused_wanted && group > 1 && ctx_.device() != Device::CPU)
    out << "CUDA graph: not with training.accumulate_steps; running the steps eagerly\n";
  else if (tc.cuda_graph && !fused_wanted && !use_graph && ctx_.device() != Device::CPU)
    out << "CUDA graph: not on this device; running the step eagerly\n";
  if (tc.cuda_graph && fused_wanted)
    out << "CUDA graph: not needed, the fused step launches many steps at once\n";
  // training.ema_decay's average, updated after every step; training.swa's after epochs.
  WeightAverage* const ema = average_ && !average_->is_equal() ? average_.get() : nullptr;
  WeightAverage* const swa = average_ && average_->is_equal() ? average_.get() : nullptr;
  if (ema) out << ema->describe() << "\n";
  if (swa) out << tc.swa.describe(tc.epochs, !net_.buffers().empty()) << "\n";
  int32_t zero = 0;
  copy_tensor(Tensor(&zero, Shape{1}), nonfinite());
  LrSchedule schedule(tc.schedule, tc.optimizer, tc.epochs, steps_per_epoch);
  schedule.set_plateau_lr(state_.plateau.lr);  // a resumed run's, or unset
  schedule.set_swa(tc.swa);
  const auto smoothing = static_cast<float>(tc.label_smoothing);
  if (net_.precision() != tc.precision)
    throw Error(std::string("Trainer: the network was set up in ") +
                precision_name(net_.precision()) + ", the config asks for " +
                precision_name(tc.precision));
  LossMeter running(ctx_);  // the tutorial's running_loss, reset at every print
  LossMeter epoch_meter(ctx_);
  // Note [fused step]: runs of steps in one launch, ending where the host must look.
  // It is for GPUs: on the CPU the layer path is faster, and the host loop is
  // the reference the tests compare with (fused_on_cpu_).
  std::unique_ptr<FusedStep> fused;
  if (tc.fused_step) {  // what it cannot take is refused on every device, naming it
    if (const std::string why = FusedStep::unsupported_reason(net_, config_); !why.empty())
      throw ConfigError("training.fused_step: " + why);
    if (fused_wanted)
      fused = std::make_unique<FusedStep>(ctx_, net_, *optimizer_, dataset, config_,
                                          running.loss_sum(), epoch_meter.correct(), nonfinite());
    else
      out << "Fused step: for GPUs; the CPU runs the layer path\n";
  }
  std::vector<FusedStepArgs> fused_args;
  bool fused_described = false;
  const bool device_checks = use_graph || fused;  // NaN/Inf counted on the device, read at logs
  InterruptGuard interrupts;
  TrainingState& s = state_;
  bool stop_asked = false;  // on_log_ asked to stop at the step's end
  char line[160];
  if (s.batches_done >= batches)
    throw CheckpointError("cannot resume at batch " + std::to_string(s.batches_done) +
                          ": an epoch has only " + std::to_string(batches) + " batches");
  if (s.batches_done % group != 0)
    throw CheckpointError("cannot resume at batch " + std::to_string(s.batches_done) +
                          " with training.accumulate_steps " + std::to_string(group) +
                          ": a step ends every " + std::to_string(group) +
                          " batches; resume from an epoch boundary to change accumulate_steps");
  const Tensor gradients = net_.flat_gradients();  // (P) F32
  // (P) F32: the sum of the gradients of the group's batches so far; only with accumulation
  Buffer gradient_sum(ctx_.device(), group > 1 ? gradients.bytes() : 0);
  const Tensor gradient_sum_t(static_cast<float*>(gradient_sum.data()), gradients.shape,
                              ctx_.device());
  if (group > 1) {
    std::snprintf(line, sizeof line,
                  "Gradient accumulation: a step per %lld batches of %lld (effective batch "
                  "%lld), %lld steps per epoch\n",
                  static_cast<long long>(group), static_cast<long long>(tc.batch_size),
                  static_cast<long long>(group * tc.batch_size),
                  static_cast<long long>(steps_per_epoch));
    out << line;
  }

  // The state with the device-side meters read back, for a checkpoint.
  // Under a graph or the fused step, the device's NaN/Inf count is read
  // first: a diverged run stops with the error rather than save its weights.
  auto snapshot = [&](const char* status) {
    ctx_.synchronize();
    if (device_checks) check_graph_finite(s);
    read_loss_scale(s);
    s.running_loss = running.read().loss_sum;
    s.epoch_correct = epoch_meter.read().correct;
    s.status = status;
    return s;
  };
  if (resumed_) rng_.set_state(s.epoch_rng);
  const auto log = [&](const char* event, nlohmann::ordered_json record) {
    if (log_) log_->write(event, record);
  };
  log("start", {{"network", net_.name()},
                {"device", std::string(device_name(ctx_.device()))},
                {"precision", precision_name(tc.precision)},
                {"epochs", tc.epochs},
                {"batch_size", tc.batch_size},
                {"accumulate_steps", group},
                {"batches_per_epoch", batches},
                {"steps_per_epoch", steps_per_epoch},
                {"training_images", dataset.count()},
                {"resumed", resumed_},
                {"step", s.steps},
                {"epochs_completed", s.epochs_completed},
                {"batches_done", s.batches_done}});
  // A periodic, best or final checkpoint, printed and logged.
  const auto saved = [&](const std::string& path, const TrainingState& snap) {
    log("checkpoint", {{"path", path}, {"status", snap.status}, {"step", snap.steps}});
  };

  // Note [stochastic weight averaging]: an update after each epoch from
  // swa.start_epoch on; the average's BatchNorm statistics are recomputed
  // (stale until then) before it is measured or saved at an epoch's end.
  bool swa_stale = false;
  const auto swa_update = [&] {
    NvtxRange phase("swa_update");
    swa->apply(net_);
    swa->count_update();
    swa_stale = true;
  };
  const auto refresh_swa_statistics = [&] {
    if (!swa_stale) return;
    with_average(swa, net_, [&] {
      recompute_batchnorm_statistics(ctx_, net_, dataset, tc.batch_size, args, tc.seed);
    });
    dataset.set_augment(config_.data.augment, tc.seed, tc.batch_size);
    swa_stale = false;
  };
  if (swa) {
    // A stop at an epoch's last step comes before that epoch's update: take it now.
    const int64_t expected = std::max<int64_t>(0, s.epochs_completed - tc.swa.start_epoch + 1);
    if (s.batches_done == 0 && swa->updates() + 1 == expected) swa_update();
    if (swa->updates() != expected)
      throw CheckpointError("the checkpoint's weight average holds " +
                            std::to_string(swa->updates()) + " updates; training.swa after " +
                            std::to_string(s.epochs_completed) + " epochs expects " +
                            std::to_string(expected));
  }

  for (int64_t epoch = s.epochs_completed + 1; epoch <= tc.epochs; ++epoch) {
    const auto start = std::chrono::steady_clock::now();
    if (s.batches_done == 0) {  // a fresh epoch
      s.running_loss = 0;
      s.epoch_correct = s.epoch_images = 0;
    }
    s.epoch_rng = rng_.state();  // before the shuffle: redrawing it gives the same order
    dataset.start_epoch(rng_, epoch - 1, config_.data.shuffle);
    running.set(s.running_loss, 0);
    epoch_meter.set(0, s.epoch_correct);
    int64_t images_this_run = 0;
    int64_t fused_until = s.batches_done;  // the batches before it have run (fused step)
    for (int64_t b = s.batches_done; b < batches; ++b) {
      const int64_t in_group = b % group;  // the batch's place in its accumulation group
      const bool step_ends = in_group == group - 1 || b + 1 == batches;
      const int64_t group_batches = std::min(group, batches - (b - in_group));
      if (in_group == 0 && s.steps + 1 == profile_first_) cuda::profiler_start();
      NvtxRange step_range("train_step");
      const int64_t n = dataset.batch_count(b, tc.batch_size);
      if (fused) {
        if (b == fused_until) {
          fused_until = fused_run_end(b, batches, s.steps);
          fused_args.clear();
          for (int64_t j = b; j < fused_until; ++j)
            fused_args.push_back(fused_step_args(dataset, j, tc.batch_size, *optimizer_,
                                                 schedule.at(s.epochs_completed, s.steps + (j - b)),
                                                 j - b));
          NvtxRange phase("fused_steps");
          fused->run(fused_args);
          if (!fused_described) out << fused->describe() << "\n";
          fused_described = true;
        }
      } else {
        const Tensor batch_labels(static_cast<int32_t*>(labels.data()), Shape{mixing ? 2 * n : n},
                                  ctx_.device());
        // This step's arguments, uploaded once (Note [graph-safe step arguments]).
        StepScalars& scalars = args.next();
        scalars.batch = dataset.batch_args(b, tc.batch_size);
        scalars.step_key = Network::step_key(tc.seed, s.steps * group + in_group);  // per batch
        optimizer_->write_step(scalars, schedule.at(s.epochs_completed, s.steps));
        args.upload();
        // After the NaN/Inf check: clipping spreads a NaN to every gradient.
        auto clip_gradients = [&] {
          if (!clipper_) return;
          NvtxRange phase("clip_grad_norm");
          clipper_->clip(net_.flat_gradients(), trainable_);
        };
        auto forward_backward = [&] {
          dataset.assemble(args.batch(), net_.input(n), batch_labels);
          Tensor logits;
          {
            NvtxRange phase("forward");
            logits = net_.forward(n);
          }
          const Tensor dlogits = net_.output_grad(n);
          {
            NvtxRange phase("loss");
            // Note [mixed precision]: the scaled loss gradient keeps small fp16 gradients alive.
            if (mixing)
              ops::mixed_softmax_cross_entropy(ctx_, logits, batch_labels, args.mix_lambda(),
                                               smoothing, scaler_->scale(), &dlogits,
                                               running.loss_sum(), epoch_meter.correct());
            else
              ops::softmax_cross_entropy(ctx_, logits, batch_labels, smoothing, scaler_->scale(),
                                         &dlogits, running.loss_sum(), epoch_meter.correct());
          }
          NvtxRange phase("backward");
          net_.backward(n);
        };
        // The step's gradient: the mean over its group's batches, then unscaled.
        auto step_gradient = [&] {
          if (group_batches > 1) {
            NvtxRange phase("accumulate");
            const auto mean = static_cast<float>(1.0 / static_cast<double>(group_batches));
            ops::axpby(ctx_, mean, gradient_sum_t, mean, gradients);
          }
          scaler_->unscale(gradients, trainable_);  // dynamic: NaN/Inf skips the step
        };
        // The first full batch runs eagerly even under --graph: every cuDNN and
        // cuBLAS routine then initializes outside the capture (a first call
        // may allocate or synchronize, which a capture does not allow).
        const bool graph_step = use_graph && n == tc.batch_size && graph_warm;
        if (graph_step) {
          // Note [numerical checks under a graph]: the gradients' NaN/Inf count
          // accumulates on the device and is read at each log line and epoch end.
          if (!graph.captured()) {
            out << "CUDA graph: capturing the training step (batch " << n << ")\n";
            if (ema && ema->updates() == 0)
              throw Error("Trainer: the weight average's first update (a copy) must run eagerly");
            graph.capture([&] {
              forward_backward();
              step_gradient();
              // Dynamic scaling skips steps with NaN/Inf gradients, but a
              // non-finite loss (the forward overflowed) must still stop the run.
              if (scaler_->dynamic())
                ops::count_nonfinite(ctx_, running.loss_sum(), nonfinite());
              else
                ops::count_nonfinite(ctx_, net_.flat_gradients(), nonfinite());
              clip_gradients();
              NvtxRange phase("update");
              optimizer_->apply(net_, args);
              scaler_->update();
              // Its first update (a copy) ran eagerly: the graph holds the averaging.
              if (ema) ema->apply(net_);
            });
          }
          graph.replay();
        } else {
          // check_finite resets the count the graph steps accumulate: read it first.
          if (graph.captured()) check_graph_finite(s);
          forward_backward();
          if (!step_ends) {  // add this batch's gradient to the group's (scaled, as computed)
            NvtxRange phase("accumulate");
            ops::axpby(ctx_, 1.0f, gradients, in_group == 0 ? 0.0f : 1.0f, gradient_sum_t);
          } else {
            step_gradient();
            check_finite(s, n, running.read().loss_sum);
            clip_gradients();  // after the check, which names where a NaN/Inf began
            NvtxRange phase("update");
            optimizer_->apply(net_, args);
            scaler_->update();
            if (ema) ema->apply(net_);
            graph_warm = graph_warm || n == tc.batch_size;
          }
        }
      }
      if (step_ends) {
        optimizer_->count_step();
        if (ema) ema->count_update();
        ++s.steps;
        if (s.steps == profile_last_) cuda::profiler_stop();
      }
      net_.note_training_step();  // per batch: BatchNorm counts its training forwards
      s.batches_done = b + 1;
      s.epoch_images += n;
      images_this_run += n;
      if ((b + 1) % tc.log_every == 0) {
        if (device_checks) check_graph_finite(s);
        read_loss_scale(s);
        const double mean = running.read().loss_sum / static_cast<double>(tc.log_every);
        std::snprintf(line, sizeof line, "[Epoch: %lld, Batch: %lld] Loss: %.3f\n",
                      static_cast<long long>(epoch), static_cast<long long>(b + 1), mean);
        out << line << std::flush;
        nlohmann::ordered_json record = {
            {"epoch", epoch},
            {"batch", b + 1},
            {"step", s.steps},
            {"loss", mean},
            {"lr", schedule.at(epoch - 1, std::max<int64_t>(s.steps - 1, 0)).lr}};
        if (clipper_ && log_) record["grad_norm"] = clipper_->last_norm();  // of the last step
        log("loss", record);
        s.last_loss = mean;
        running.reset();
        if (on_log_ && on_log_({epoch, b + 1, s.steps, mean, record["lr"].get<double>()}))
          stop_asked = true;
      }
      if (s.batches_done == batches) {  // the epoch is done: the state says so
        s.epochs_completed = epoch;
        s.batches_done = 0;
        s.epoch_rng = rng_.state();  // the next epoch's shuffle starts from here
      }
      // Checkpoints and stops wait for the step's end: a group is never split.
      if (!step_ends) continue;
      if (write_checkpoints_ && tc.checkpoint_every_steps > 0 &&
          s.steps % tc.checkpoint_every_steps == 0) {
        const TrainingState snap = snapshot("periodic");
        saver_.save(tc.checkpoint, snap);
        const std::string path = saver_.save_periodic(snap);
        out << "Checkpoint " << path << "\n" << std::flush;
        saved(tc.checkpoint, snap);
        saved(path, snap);
      }
      // A fused run has already taken the steps up to fused_until: stop only there.
      if (fused && b + 1 != fused_until) continue;
      if (const int signo = InterruptGuard::pending()) {
        const TrainingState snap = snapshot("interrupted");
        stop_signal_ = signo;
        out << "Interrupted by signal " << signo << " at step " << s.steps;
        if (write_checkpoints_) {
          saver_.save(tc.checkpoint, snap);
          out << "; checkpoint written to " << tc.checkpoint;
          saved(tc.checkpoint, snap);
        }
        out << "\n";
        log("stop", {{"status", snap.status}, {"signal", signo}, {"step", s.steps}});
        return snap;
      }
      if ((stop_after_ > 0 && s.steps >= stop_after_) || stop_asked) {
        const TrainingState snap = snapshot("stopped");
        out << "Stopped after " << s.steps << " steps as asked";
        if (write_checkpoints_) {
          saver_.save(tc.checkpoint, snap);
          out << "; checkpoint written to " << tc.checkpoint;
          saved(tc.checkpoint, snap);
        }
        out << "\n";
        log("stop", {{"status", snap.status}, {"step", s.steps}});
        return snap;
      }
    }
    if (device_checks) check_graph_finite(s);
    ctx_.synchronize();
    read_loss_scale(s);
    const double seconds =
        std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
    const int64_t correct = epoch_meter.read().correct;
    EpochReport report{
        epoch, batches, seconds, seconds > 0 ? static_cast<double>(images_this_run) / seconds : 0.0,
        s.epoch_images ? 100.0 * static_cast<double>(correct) / static_cast<double>(s.epoch_images)
                       : 0.0};
    reports_.push_back(report);
    std::snprintf(line, sizeof line,
                  "Epoch %lld: %lld batches in %.2f s, %.0f images/s, train accuracy %.2f%%, "
                  "lr %.3g\n",
                  static_cast<long long>(epoch), static_cast<long long>(report.batches),
                  report.seconds, report.images_per_second, report.train_accuracy,
                  schedule.at(epoch - 1, s.steps - 1).lr);
    out << line;
    if (swa && epoch >= tc.swa.start_epoch) {
      swa_update();
      std::snprintf(line, sizeof line,
                    "SWA: the weights of epoch %lld averaged in (%lld epoch%s in the average)\n",
                    static_cast<long long>(epoch), static_cast<long long>(swa->updates()),
                    swa->updates() == 1 ? "" : "s");
      out << line;
    }
    nlohmann::ordered_json epoch_record = {{"epoch", epoch},
                                           {"step", s.steps},
                                           {"batches", report.batches},
                                           {"seconds", report.seconds},
                                           {"images_per_second", report.images_per_second},
                                           {"train_accuracy", report.train_accuracy},
                                           {"lr", schedule.at(epoch - 1, s.steps - 1).lr}};
    if (swa) epoch_record["swa_models"] = swa->updates();
    if (scaler_->dynamic()) {
      epoch_record["loss_scale"] = s.loss_scale;
      epoch_record["skipped_steps"] = s.skipped_steps;
    }
    log("epoch", epoch_record);
    if (scaler_->dynamic()) {
      std::snprintf(line, sizeof line,
                    "Loss scale %.10g after epoch %lld (%lld steps skipped for fp16 overflow "
                    "so far)\n",
                    s.loss_scale, static_cast<long long>(epoch),
                    static_cast<long long>(s.skipped_steps));
      out << line;
    }
    out << std::flush;
    s.running_loss = 0;
    s.epoch_correct = s.epoch_images = 0;
    bool stop_early = false;
    if (eval_every_ > 0 && evaluate_ && epoch % eval_every_ == 0) {
      refresh_swa_statistics();
      EvalScore score;  // of what the checkpoints hold: the average, with one
      with_average(average_.get(), net_, [&] { score = evaluate_(); });
      const double accuracy = score.accuracy;
      const bool better = accuracy > s.best_accuracy;
      if (better) {
        s.best_accuracy = accuracy;
        s.best_epoch = epoch;
      }
      std::snprintf(line, sizeof line,
                    "Epoch %lld: %s accuracy %.2f%% (best %.2f%% at epoch %lld), mean loss %.4f\n",
                    static_cast<long long>(epoch), eval_set_.c_str(), accuracy, s.best_accuracy,
                    static_cast<long long>(s.best_epoch), score.mean_loss);
      out << line;
      log("eval", {{"epoch", epoch},
                   {"step", s.steps},
                   {"set", eval_set_},
                   {eval_set_ + "_accuracy", accuracy},
                   {eval_set_ + "_loss", score.mean_loss},
                   {"best_accuracy", s.best_accuracy},
                   {"best_epoch", s.best_epoch},
                   {"weights", average_ && average_->updates() > 0 ? "average" : "trained"}});
      if (better && keep_best_ && write_checkpoints_) {
        TrainingState best = snapshot("best");
        (eval_set_ == "validation" ? best.validation_accuracy : best.test_accuracy) = accuracy;
        const std::string path = best_checkpoint_path(tc.checkpoint);
        saver_.save(path, best);
        out << "Best checkpoint " << path << "\n";
        saved(path, best);
      }
      if (tc.schedule.type == "plateau") step_plateau(score, epoch, schedule, out);
      // The evaluations since the best one (resumed runs count from best_epoch too).
      const int64_t without_better = (epoch - s.best_epoch) / eval_every_;
      if (patience_ > 0 && without_better >= patience_ && epoch < tc.epochs) {
        stop_early = true;
        std::snprintf(line, sizeof line,
                      "Early stopping: no better %s accuracy in %lld evaluations (best %.2f%% at "
                      "epoch %lld); stopping after epoch %lld of %lld\n",
                      eval_set_.c_str(), static_cast<long long>(without_better), s.best_accuracy,
                      static_cast<long long>(s.best_epoch), static_cast<long long>(epoch),
                      static_cast<long long>(tc.epochs));
        out << line;
        log("early_stop", {{"epoch", epoch},
                           {"step", s.steps},
                           {"best_accuracy", s.best_accuracy},
                           {"best_epoch", s.best_epoch}});
      }
      out << std::flush;
    }
    if (write_checkpoints_ && tc.checkpoint_every_epochs > 0 &&
        epoch % tc.checkpoint_every_epochs == 0) {
      refresh_swa_statistics();
      const TrainingState snap = snapshot("periodic");
      saver_.save(tc.checkpoint, snap);
      const std::string path = saver_.save_periodic(snap);
      out << "Checkpoint " << path << "\n" << std::flush;
      saved(tc.checkpoint, snap);
      saved(path, snap);
    }
    if (stop_early) break;
  }
  refresh_swa_statistics();  // the final checkpoint and accuracies are the average's
  s.status = "complete";
  return s;
}

}  // namespace cnne
