#include "engine/lr_finder.h"

#include <cmath>
#include <cstdio>
#include <limits>

#include "engine/error.h"

namespace cnne {

LrFinder::LrFinder(const LrFinderOptions& options) : o_(options) {
  if (!(o_.start_lr > 0) || !std::isfinite(o_.start_lr))
    throw UsageError("--start-lr must be a positive number");
  if (!(o_.end_lr > o_.start_lr) || !std::isfinite(o_.end_lr))
    throw UsageError("--end-lr must be greater than --start-lr (" + std::to_string(o_.start_lr) +
                     ")");
  if (o_.steps < 2) throw UsageError("--steps must be at least 2");
  if (!(o_.smoothing >= 0 && o_.smoothing < 1))
    throw UsageError("--smoothing must be in [0, 1) (the running average's beta)");
  if (!(o_.divergence == 0 || o_.divergence > 1))
    throw UsageError("--divergence must be 0 (never stop) or greater than 1");
}

double LrFinder::lr_at(int64_t step) const {
  return o_.start_lr * std::pow(o_.end_lr / o_.start_lr,
                                static_cast<double>(step) / static_cast<double>(o_.steps));
}

ScheduleConfig LrFinder::schedule() const {
  ScheduleConfig c;
  c.type = "exponential";
  c.unit = "step";
  c.gamma = std::pow(o_.end_lr / o_.start_lr, 1.0 / static_cast<double>(o_.steps));
  return c;
}

bool LrFinder::record(double lr, double loss) {
  LrPoint p;
  p.step = static_cast<int64_t>(points_.size()) + 1;
  p.lr = lr;
  p.loss = loss;
  if (!std::isfinite(loss)) {
    p.smoothed = loss;
    points_.push_back(p);
    stop_reason_ = "the loss is " + std::string(std::isnan(loss) ? "NaN" : "infinite") +
                   " at step " + std::to_string(p.step);
    return true;
  }
  average_ = o_.smoothing * average_ + (1 - o_.smoothing) * loss;
  p.smoothed = average_ / (1 - std::pow(o_.smoothing, static_cast<double>(p.step)));
  points_.push_back(p);
  bool stop = false;
  if (o_.divergence > 0 && p.step > 1 && p.smoothed > o_.divergence * best_) {
    char why[160];
    std::snprintf(why, sizeof why,
                  "the smoothed loss %.4g at step %lld passed %g times its best (%.4g)", p.smoothed,
                  static_cast<long long>(p.step), o_.divergence, best_);
    stop_reason_ = why;
    stop = true;
  }
  if (p.step == 1 || p.smoothed < best_) best_ = p.smoothed;
  return stop;
}

void LrFinder::record_numerical_stop(const std::string& why) {
  record(lr_at(static_cast<int64_t>(points_.size())), std::numeric_limits<double>::quiet_NaN());
  stop_reason_ = why + " at step " + std::to_string(points_.size());
}

std::optional<size_t> LrFinder::steepest() const {
  // Lightning: losses[skip_begin:-skip_end], the finite ones, numpy.gradient;
  // here only up to the lowest point (Note [learning-rate range test]).
  const std::optional<size_t> lowest = minimum();
  if (!lowest) return std::nullopt;
  std::vector<size_t> kept;
  for (size_t i = kSteepestSkipBegin; i + kSteepestSkipEnd < points_.size() && i <= *lowest + 1;
       ++i)
    if (std::isfinite(points_[i].smoothed)) kept.push_back(i);
  if (kept.size() < 2) return std::nullopt;
  const auto loss = [&](size_t k) { return points_[kept[k]].smoothed; };
  const size_t n = kept.size();
  size_t best = 0;
  double best_gradient = 0;
  for (size_t k = 0; k < n; ++k) {
    // numpy.gradient: one-sided at the ends, central inside
    const double g = k == 0       ? loss(1) - loss(0)
                     : k == n - 1 ? loss(n - 1) - loss(n - 2)
                                  : (loss(k + 1) - loss(k - 1)) / 2;
    if (k == 0 || g < best_gradient) {
      best = k;
      best_gradient = g;
    }
  }
  return kept[best];
}

std::optional<size_t> LrFinder::minimum() const {
  std::optional<size_t> best;
  for (size_t i = 0; i < points_.size(); ++i)
    if (std::isfinite(points_[i].smoothed) &&
        (!best || points_[i].smoothed < points_[*best].smoothed))
      best = i;
  return best;
}

}  // namespace cnne
