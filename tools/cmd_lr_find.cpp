// cnnengine lr-find [CONFIG]: the learning-rate range test (Note
// [learning-rate range test] in engine/lr_finder.h) on the config's network,
// data and optimizer.
#include <algorithm>
#include <cmath>
#include <cstdio>
#include <iostream>
#include <sstream>

#include "engine/atomic_file.h"
#include "engine/error.h"
#include "tools/commands.h"
#include "tools/session.h"
#include "tools/training_run.h"

namespace cnne::cli {
namespace {

// The train flags that shape the steps the test takes; --epochs, --lr,
// schedules, checkpoints and evaluations are the test's own.
std::vector<FlagSpec> lr_find_flags() {
  std::vector<FlagSpec> flags = {
      {"start-lr", "X", "the first step's learning rate (default 1e-7)"},
      {"end-lr", "X", "the rate the ramp rises towards (default 10)"},
      {"steps", "N", "optimizer steps at most (default 100)"},
      {"smoothing", "B", "beta of the loss's running average (default 0.98)"},
      {"divergence", "F",
       "stop once the smoothed loss exceeds F times its best (default 4; 0 = never)"},
      {"csv", "FILE", "write every step's lr, loss and smoothed loss (CSV)"},
  };
  const char* shared[] = {
      "data",          "batch-size", "accumulate-steps", "seed",    "train-limit", "validation",
      "init-from",     "precision",  "deterministic",    "graph",   "no-graph",    "fused-step",
      "no-fused-step", "no-fusion",  "device",           "threads", "tf32",        "channels-last"};
  for (const FlagSpec& f : train_flags())
    if (std::find_if(std::begin(shared), std::end(shared),
                     [&](const char* n) { return f.name == n; }) != std::end(shared))
      flags.push_back(f);
  return flags;
}

LrFinderOptions options_from(const CliArgs& args) {
  LrFinderOptions o;
  o.start_lr = args.number("start-lr").value_or(o.start_lr);
  o.end_lr = args.number("end-lr").value_or(o.end_lr);
  o.steps = args.integer("steps", 2, 1000000).value_or(o.steps);
  o.smoothing = args.number("smoothing").value_or(o.smoothing);
  o.divergence = args.number("divergence").value_or(o.divergence);
  return o;
}

// step,lr,loss,smoothed; written atomically.
void write_csv(const std::string& path, const std::vector<LrPoint>& points) {
  std::string text = "step,lr,loss,smoothed_loss\n";
  char row[128];
  for (const LrPoint& p : points) {
    std::snprintf(row, sizeof row, "%lld,%.9g,%.9g,%.9g\n", static_cast<long long>(p.step), p.lr,
                  p.loss, p.smoothed);
    text += row;
  }
  try {
    write_file_atomically(path, {std::span<const uint8_t>(
                                    reinterpret_cast<const uint8_t*>(text.data()), text.size())});
  } catch (const Error& e) {
    throw Error(std::string("--csv: ") + e.what());
  }
}

// The smoothed loss against log10(lr), the losses above 1.25 times the first
// clipped to the top row ('^'); S marks the steepest point, M the lowest.
void plot(const LrFinder& finder, std::ostream& out) {
  const std::vector<LrPoint>& points = finder.points();
  constexpr int kWidth = 64, kHeight = 12;
  const auto steepest = finder.steepest();
  const auto lowest = finder.minimum();
  if (!lowest || points.size() < 2) return;
  const double x0 = std::log10(points.front().lr), x1 = std::log10(points.back().lr);
  const double y0 = points[*lowest].smoothed;
  double y1 = y0;
  for (const LrPoint& p : points)
    if (std::isfinite(p.smoothed))
      y1 = std::max(y1, std::min(p.smoothed, 1.25 * points[0].smoothed));
  if (!(x1 > x0) || !(y1 > y0)) return;
  std::vector<std::string> grid(kHeight, std::string(kWidth, ' '));
  for (size_t i = 0; i < points.size(); ++i) {
    const LrPoint& p = points[i];
    if (!std::isfinite(p.smoothed)) continue;
    const int x = static_cast<int>(std::lround((std::log10(p.lr) - x0) / (x1 - x0) * (kWidth - 1)));
    const bool above = p.smoothed > y1;
    const double y = std::min(p.smoothed, y1);
    const int row =
        kHeight - 1 - static_cast<int>(std::lround((y - y0) / (y1 - y0) * (kHeight - 1)));
    char& cell = grid[static_cast<size_t>(row)][static_cast<size_t>(x)];
    cell = steepest && i == *steepest ? 'S'
           : i == *lowest             ? 'M'
           : above                    ? '^'
           : cell == ' '              ? '*'
                                      : cell;
  }
  out << "smoothed loss against lr (log scale):\n";
  char label[32], left[48];
  for (int r = 0; r < kHeight; ++r) {
    label[0] = 0;
    if (r == 0 || r == kHeight - 1) std::snprintf(label, sizeof label, "%.3g", r == 0 ? y1 : y0);
    std::snprintf(left, sizeof left, "%9s |", label);
    out << left << grid[static_cast<size_t>(r)] << "\n";
  }
  char axis[160];
  std::snprintf(axis, sizeof axis, "%10s+%s\n%10s%-*.1e%*.1e\n", "",
                std::string(kWidth, '-').c_str(), "", kWidth / 2, points.front().lr, kWidth / 2,
                points.back().lr);
  out << axis;
}

}  // namespace

void prepare_range_test(Config& config, const LrFinder& finder) {
  TrainingConfig& t = config.training;
  t.optimizer.lr = finder.options().start_lr;
  t.schedule = finder.schedule();
  t.log_every = t.accumulate_steps;   // a log line per optimizer step: its mean loss
  t.epochs = finder.options().steps;  // enough: every epoch has a step; the test stops itself
  t.ema_decay = 0;
  t.swa = SwaConfig{};
  t.checkpoint_every_steps = t.checkpoint_every_epochs = 0;
  config.eval.every_epochs = 0;
  config.eval.early_stopping = 0;
}

int run_range_test(Trainer& trainer, const ImageDataset& train, const Config& config,
                   LrFinder& finder, const CliArgs& args, std::ostream& out) {
  const LrFinderOptions& o = finder.options();
  const auto csv = args.text("csv");
  const TrainingConfig& t = config.training;
  char line[256];
  std::snprintf(line, sizeof line,
                "Learning-rate range test: up to %lld steps, lr %.3g rising exponentially towards "
                "%.3g, %s, batch %lld%s on %lld images; no checkpoint is written\n",
                static_cast<long long>(o.steps), o.start_lr, o.end_lr, t.optimizer.type.c_str(),
                static_cast<long long>(t.batch_size),
                t.accumulate_steps > 1
                    ? (" x " + std::to_string(t.accumulate_steps) + " accumulated").c_str()
                    : "",
                static_cast<long long>(train.count));
  out << line << std::flush;
  trainer.write_checkpoints(false);
  trainer.stop_after_steps(o.steps);
  // A row about every 1/20 of the steps; --csv has them all.
  const int64_t stride = std::max<int64_t>(1, o.steps / 20);
  out << "     step          lr        loss    smoothed\n";
  const auto row = [&](const LrPoint& p) {
    std::snprintf(line, sizeof line, "%9lld %11.3e %11.5g %11.5g\n", static_cast<long long>(p.step),
                  p.lr, p.loss, p.smoothed);
    out << line << std::flush;
  };
  trainer.on_log([&](const Trainer::LogPoint& p) {
    const bool stop = finder.record(p.lr, p.loss);
    const LrPoint& last = finder.points().back();
    if (stop || last.step == 1 || last.step % stride == 0 || last.step == o.steps) row(last);
    return stop;
  });
  std::ostringstream quiet;  // the trainer's own lines: a loss per step, epochs
  try {
    trainer.train(train, quiet);
  } catch (const NumericalError&) {  // a NaN/Inf the trainer found before the step's log line
    finder.record_numerical_stop("a NaN or Inf in the loss or the gradients");
    row(finder.points().back());
  }
  const std::vector<LrPoint>& points = finder.points();
  if (!finder.stop_reason().empty())
    out << "Stopped after " << points.size() << " of " << o.steps
        << " steps: " << finder.stop_reason() << "\n";
  else if (trainer.stop_signal())
    out << "Interrupted by signal " << trainer.stop_signal() << " after " << points.size()
        << " steps\n";
  else if (points.empty())
    out << "No step was recorded: no log line fell at a step's end (training.accumulate_steps "
        << t.accumulate_steps << " against an epoch's batches?)\n";
  else
    out << "Done: " << points.size() << " steps\n";
  if (const auto s = finder.steepest()) {
    std::snprintf(line, sizeof line,
                  "Suggested lr %.2e: the steepest descent of the smoothed loss (step %lld; "
                  "Lightning's suggestion); as a onecycle max_lr, a constant rate lower\n",
                  points[*s].lr, static_cast<long long>(points[*s].step));
    out << line;
  } else {
    out << "No steepest-descent suggestion: it looks from step " << kSteepestSkipBegin + 1
        << " to the lowest smoothed loss and found fewer than 2 steps there; the loss did not "
           "fall, or the test stopped early (try more --steps or a lower --start-lr)\n";
  }
  if (const auto m = finder.minimum(); m && *m < kSteepestSkipBegin) {
    std::snprintf(line, sizeof line,
                  "Lowest smoothed loss %.4f at step %lld, within the first %zu: the loss did not "
                  "fall as the rate rose, so no rate is suggested from it\n",
                  points[*m].smoothed, static_cast<long long>(points[*m].step), kSteepestSkipBegin);
    out << line;
  } else if (m) {
    std::snprintf(line, sizeof line,
                  "Lowest smoothed loss %.4f at lr %.2e (step %lld); a tenth of that rate: %.2e "
                  "(fastai's lr_min)\n",
                  points[*m].smoothed, points[*m].lr, static_cast<long long>(points[*m].step),
                  points[*m].lr / 10);
    out << line;
  }
  plot(finder, out);
  if (csv) {
    write_csv(*csv, points);
    out << "Losses written to " << *csv << "\n";
  }
  return trainer.stop_signal() ? 128 + trainer.stop_signal() : 0;
}

int run_lr_find(int argc, char** argv, int first) {
  CliArgs args("lr-find", lr_find_flags(), 1, argc, argv, first);
  if (args.help_requested()) {
    std::cout << args.help_text(
        "[CONFIG] [options]",
        "The learning-rate range test (Smith 2015; fastai's lr_find, Lightning's\n"
        "Tuner.lr_find): trains the network of CONFIG (default: the built-in tutorial)\n"
        "from its initial weights with the rate rising exponentially each step from\n"
        "--start-lr towards --end-lr, prints the smoothed loss, and stops when it\n"
        "diverges. Suggests the rate of the steepest descent and a tenth of the rate of\n"
        "the lowest loss. The config's optimizer, batch, augmentation and precision are\n"
        "used; its lr and schedule are replaced. Nothing is saved but --csv.");
    return 0;
  }
  LrFinder finder(options_from(args));
  if (const auto csv = args.text("csv")) check_output_path("--csv", *csv);  // before the steps
  return run_training(args, &finder);
}

}  // namespace cnne::cli
