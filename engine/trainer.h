#pragma once
// Trainer: the tutorial's loop. Per step: load batch, forward, softmax
// cross-entropy (loss and d(logits) in one op), backward, a check that the
// loss and gradients are finite, SGD update. Prints
//   [Epoch: 1, Batch: 2000] Loss: 2.208
// every log_every batches, and per epoch the wall time and images/s. Writes
// periodic checkpoints, and stops cleanly (checkpoint written) on SIGINT or
// SIGTERM or after a requested number of steps. A resumed run continues
// exactly where its checkpoint stopped (Note [exact resume]).
#include <functional>
#include <ostream>

#include "engine/checkpoint_saver.h"
#include "engine/config.h"
#include "engine/context.h"
#include "engine/dataset.h"
#include "engine/gradient_clipper.h"
#include "engine/loss_scaler.h"
#include "engine/network.h"
#include "engine/optimizer.h"
#include "engine/rng.h"
#include "engine/schedule.h"
#include "engine/training_log.h"
#include "engine/weight_average.h"

namespace cnne {

struct EpochReport {
  int64_t epoch = 0;  // 1-based
  int64_t batches = 0;
  double seconds = 0;
  double images_per_second = 0;
  double train_accuracy = 0;  // percent, over the epoch
};

// What an evaluation during training measured.
struct EvalScore {
  double accuracy = 0;   // percent
  double mean_loss = 0;  // mean cross-entropy over the images
};

class Trainer {
 public:
  // net must be set up for config.training.batch_size and initialized; rng
  // drives the shuffles (its state after initialization).
  Trainer(Context& ctx, const Config& config, Network& net, Rng& rng);

  // Continue from a checkpoint's state and optimizer file instead of step 0.
  void resume(const TrainingState& state, const Safetensors& optimizer, const std::string& path);
  // Stop like an interrupt once this many steps are done in all (0 = never).
  void stop_after_steps(int64_t steps) { stop_after_ = steps; }
  // Evaluate (returns the accuracy, percent, and the mean loss on the set
  // called `set`: "validation" or "test") after every `epochs` epochs and,
  // with keep_best, write the best so far to <stem>.best.safetensors; the
  // plateau schedule steps with each evaluation.
  void evaluate_every(int64_t epochs, std::function<EvalScore()> evaluate, bool keep_best,
                      std::string set = "test") {
    eval_every_ = epochs;
    evaluate_ = std::move(evaluate);
    keep_best_ = keep_best;
    eval_set_ = std::move(set);
  }
  // Stop after an evaluation when the last `evaluations` evaluations in a row
  // found nothing better than the best (0 = never); the run ends "complete".
  void stop_early_after(int64_t evaluations) { patience_ = evaluations; }
  // Open the profiler's capture range before global step `first` (1-based) and
  // close it after step `last` (cuda/profiler.h); 0, 0 = never.
  void profile_steps(int64_t first, int64_t last) {
    profile_first_ = first;
    profile_last_ = last;
  }

  // What a log line printed: the mean loss of its batches and the rate of
  // the last step taken.
  struct LogPoint {
    int64_t epoch = 0, batch = 0, step = 0;  // 1-based epoch and batch; steps taken in all
    double loss = 0, lr = 0;
  };
  // Called after each log line; returning true stops the run at the end of
  // that step (status "stopped"), as stop_after_steps does. The learning-rate
  // range test (engine/lr_finder.h) records its losses through it.
  void on_log(std::function<bool(const LogPoint&)> hook) { on_log_ = std::move(hook); }
  // false: the trainer writes no checkpoint (periodic, best, at a stop or an
  // interrupt), for a run that only measures, as the range test.
  void write_checkpoints(bool on) { write_checkpoints_ = on; }

  // Records each log line, epoch, evaluation, checkpoint and stop in `log`
  // (JSON Lines; engine/training_log.h), besides printing them; null = none.
  void log_to(TrainingLog* log) { log_ = log; }

  // training.fused_step runs the fused step's host loop on the CPU too (it is
  // slower there than the layer path: for tests, which compare the GPU with it).
  void run_fused_on_cpu(bool on) { fused_on_cpu_ = on; }

  // Trains up to config.training.epochs. Returns the state reached; status is
  // "complete", or "interrupted"/"stopped" (a checkpoint was written).
  // Throws NumericalError when the loss or a gradient is NaN or Inf.
  TrainingState train(const ImageDataset& data, std::ostream& out);
  // The signal that interrupted train(), or 0.
  int stop_signal() const { return stop_signal_; }
  const std::vector<EpochReport>& epochs() const { return reports_; }
  const Optimizer& optimizer() const { return *optimizer_; }
  const CheckpointSaver& saver() const { return saver_; }
  // training.ema_decay's average of the weights; null when off. Evaluate
  // through with_average() to measure what the checkpoints hold.
  WeightAverage* average() const { return average_.get(); }

 private:
  // The end of the fused run starting at batch b: the next batch after which
  // the host must act (a log line, a checkpoint, a stop, the profiler, the
  // epoch's end), at most FusedStep::kMaxSteps on.
  int64_t fused_run_end(int64_t b, int64_t batches, int64_t steps_done) const;
  // The plateau schedule's step after an evaluation: lowers the rate (printed
  // and logged) when the evaluations stopped improving.
  void step_plateau(const EvalScore& score, int64_t epoch, LrSchedule& schedule, std::ostream& out);
  // Throws NumericalError naming the step and the first non-finite layer.
  void check_finite(const TrainingState& state, int64_t n, double running_loss);
  // Under a CUDA graph: throws NumericalError if any step so far met NaN/Inf.
  void check_graph_finite(const TrainingState& state);
  Tensor nonfinite() const;  // (1) I32 on the device
  // What to try after a NaN/Inf (the fp16 loss scale when that is the likely cause).
  std::string remedy() const;
  // Dynamic loss scaling: records the device state in `state`; throws
  // NumericalError when the scale has collapsed (every step overflowing).
  void read_loss_scale(TrainingState& state);

  Context& ctx_;
  const Config& config_;
  Network& net_;
  Rng& rng_;
  std::unique_ptr<Optimizer> optimizer_;
  std::unique_ptr<LossScaler> scaler_;                  // fp16 loss scaling; inactive otherwise
  std::unique_ptr<GradientClipper> clipper_;            // training.clip_grad_norm; null when off
  std::unique_ptr<WeightAverage> average_;              // training.ema_decay; null when off
  std::vector<std::pair<int64_t, int64_t>> trainable_;  // with training.freeze: what is updated
  CheckpointSaver saver_;
  TrainingState state_;
  Buffer nonfinite_;  // (1) I32 on the device
  int64_t stop_after_ = 0;
  int64_t profile_first_ = 0, profile_last_ = 0;
  int64_t eval_every_ = 0;
  int64_t patience_ = 0;
  std::function<EvalScore()> evaluate_;
  std::function<bool(const LogPoint&)> on_log_;
  std::string eval_set_ = "test";  // what evaluate_ measures: "validation" or "test"
  TrainingLog* log_ = nullptr;
  bool keep_best_ = true;
  bool write_checkpoints_ = true;
  bool resumed_ = false;
  bool fused_on_cpu_ = false;
  int stop_signal_ = 0;
  std::vector<EpochReport> reports_;
};

}  // namespace cnne
