#pragma once
// Note [learning-rate range test]
// `cnnengine lr-find` (Smith, "Cyclical Learning Rates for Training Neural
// Networks", 2015; fastai's lr_find, PyTorch Lightning's Tuner.lr_find):
// train from the initial weights for `steps` steps with the rate rising
// exponentially from start_lr towards end_lr, record each step's loss, and
// stop once the loss has clearly diverged. The rate of step i (0-based) is
//   start_lr * (end_lr / start_lr)^(i / steps)
// as both fastai and Lightning ramp it (the last step stays just below
// end_lr): the "exponential" schedule (ExponentialLR) on the step clock with
// gamma = (end_lr / start_lr)^(1 / steps), so the trainer runs it unchanged,
// under a CUDA graph or the fused step too.
//
// The loss is smoothed as Lightning's _LRCallback does: avg = beta * avg +
// (1 - beta) * loss, smoothed = avg / (1 - beta^(i + 1)) (bias-corrected), and
// the run stops after a step whose smoothed loss exceeds `divergence` times
// the best smoothed loss so far (Lightning's early_stop_threshold, fastai's
// stop_div; from the second step on). A NaN/Inf loss ends it too.
//
// Two suggestions, neither a guarantee:
//   steepest  Lightning's suggestion(): the rate where the smoothed loss
//             falls fastest, argmin of numpy.gradient over the points
//             without the first 10 and the last one, here only those up to
//             the one after the lowest smoothed loss (Lightning searches them all, and the
//             noise of a loss rising past its minimum then often wins);
//   minimum   the rate of the lowest smoothed loss divided by 10 (fastai's
//             lr_min): a safe distance below where the loss turns.
// A user picks a rate somewhat below where the loss is lowest; a onecycle
// max_lr near the minimum's rate is the usual use.
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "engine/schedule.h"

namespace cnne {

struct LrFinderOptions {
  double start_lr = 1e-7;
  double end_lr = 10;
  int64_t steps = 100;
  double smoothing = 0.98;  // beta of the loss's running average, in [0, 1)
  double divergence = 4.0;  // stop when smoothed > divergence * best; 0 = never
};

struct LrPoint {
  int64_t step = 0;  // 1-based
  double lr = 0;
  double loss = 0;      // the step's mean loss over its batch(es)
  double smoothed = 0;  // bias-corrected running average
};

class LrFinder {
 public:
  // Throws UsageError naming the flag (--start-lr, --end-lr, --steps,
  // --smoothing, --divergence) for options outside their ranges.
  explicit LrFinder(const LrFinderOptions& options);

  const LrFinderOptions& options() const { return o_; }
  // The rate of step i (0-based), the closed form above.
  double lr_at(int64_t step) const;
  // The schedule that makes the trainer take those rates (with the
  // optimizer's lr set to start_lr): exponential, unit "step".
  ScheduleConfig schedule() const;

  // Records the next step's rate and loss; true when the run should stop
  // (diverged: the loss is not finite or the smoothed loss passed the bound).
  bool record(double lr, double loss);

  // The trainer stopped the run with a NaN/Inf of its own (a NumericalError
  // before the step's loss was recorded): the step past the last recorded
  // one, at its planned rate, with a NaN loss and `why`.
  void record_numerical_stop(const std::string& why);

  const std::vector<LrPoint>& points() const { return points_; }
  // Why the run ended before its steps ("" while it has not diverged).
  const std::string& stop_reason() const { return stop_reason_; }
  // Indexes into points(); nullopt when too few finite points were recorded.
  std::optional<size_t> steepest() const;
  std::optional<size_t> minimum() const;

 private:
  LrFinderOptions o_;
  std::vector<LrPoint> points_;
  double average_ = 0;
  double best_ = 0;
  std::string stop_reason_;
};

// Lightning's suggestion() keeps points [kSteepestSkipBegin, n - kSteepestSkipEnd).
inline constexpr size_t kSteepestSkipBegin = 10, kSteepestSkipEnd = 1;

}  // namespace cnne
