#pragma once
// Learning-rate (and momentum) schedules with PyTorch's semantics, as closed
// forms of the schedule's clock t: the number of epochs completed (unit
// "epoch", what scheduler.step() once per epoch counts) or of optimizer steps
// taken (unit "step", once per batch). A resumed run therefore needs no
// schedule state: t follows from its position.
//
//   constant   lr
//   step       lr * gamma^floor(t / step_size)                       (StepLR)
//   multistep  lr * gamma^(milestones <= t)                          (MultiStepLR)
//   cosine     eta_min + (lr - eta_min) (1 + cos(pi t / t_max)) / 2  (CosineAnnealingLR)
//   onecycle   OneCycleLR (cos annealing, two phases), momentum cycled
//   cyclic     CyclicLR mode "triangular", momentum cycled
//   cosine_restarts  the cosine over cycles of t_0, t_0 * t_mult, ... units,
//              restarting at lr                     (CosineAnnealingWarmRestarts, SGDR)
//   exponential lr * gamma^t                                          (ExponentialLR)
//   polynomial lr * (1 - min(t, total_iters) / total_iters)^power     (PolynomialLR)
// Any of them may start with `warmup` units of linear warmup from
// warmup_start_factor * lr (LinearLR then the schedule, as SequentialLR).
//
// One schedule is not a closed form: plateau (ReduceLROnPlateau) lowers the
// rate after evaluations that found no better accuracy (or loss); its state
// lives in the run's TrainingState (engine/plateau.h), and the trainer hands
// the rate it decided to set_plateau_lr.
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "engine/optimizer_config.h"
#include "engine/swa_config.h"

namespace cnne {

struct ScheduleConfig {
  std::string type = "constant";
  std::string unit = "epoch";  // or "step"; from_json defaults onecycle/cyclic to "step"
  int64_t step_size = 0;
  double gamma = 0.1;
  std::vector<int64_t> milestones;
  int64_t t_max = 0;        // cosine; 0 = the run's length in units (after warmup)
  int64_t t_0 = 0;          // cosine_restarts: the first cycle's length in units
  int64_t t_mult = 1;       // cosine_restarts: each cycle this many times longer than the last
  int64_t total_iters = 0;  // polynomial; 0 = the run's length in units (after warmup)
  double power = 1.0;       // polynomial
  double eta_min = 0.0;
  double max_lr = 0.0;  // onecycle, cyclic
  double pct_start = 0.3;
  double div_factor = 25.0;
  double final_div_factor = 1e4;
  int64_t step_size_up = 2000;                       // cyclic, in steps
  bool cycle_momentum = true;                        // onecycle, cyclic
  double base_momentum = 0.85, max_momentum = 0.95;  // onecycle defaults (cyclic: 0.8, 0.9)
  int64_t warmup = 0;
  double warmup_start_factor = 0.1;
  // plateau (ReduceLROnPlateau): after each evaluation, `patience` evaluations
  // in a row without a better `metric` multiply the rate by `factor`
  std::string metric = "accuracy";  // mode "max"; "loss": the mean loss, mode "min"
  double factor = 0.1;
  int64_t patience = 10;
  double threshold = 1e-4;
  std::string threshold_mode = "rel";  // or "abs"
  int64_t cooldown = 0;
  double min_lr = 0.0;
  double plateau_eps = 1e-8;  // the JSON's "eps": smaller reductions are skipped

  static ScheduleConfig from_json(const nlohmann::json& j, const std::string& where);
  nlohmann::json to_json() const;
};

struct StepRates {
  double lr = 0;
  double momentum = 0;  // SGD momentum or Adam beta1, as the optimizer config or the cycle says
};

class LrSchedule {
 public:
  LrSchedule(const ScheduleConfig& config, const OptimizerConfig& optimizer, int64_t epochs,
             int64_t steps_per_epoch);
  // The rates of the step taken after `epochs_completed` epochs and `steps` steps.
  StepRates at(int64_t epochs_completed, int64_t steps) const;
  // plateau: the rate in force (PlateauState::lr; < 0 = the optimizer's, not yet lowered).
  void set_plateau_lr(double lr) { plateau_lr_ = lr; }
  // training.swa (Note [stochastic weight averaging]): the epochs after
  // swa.start_epoch follow SWALR from the rate of epoch start_epoch (a cosine
  // of t_max 0 still spans the whole run). Unit "epoch" only.
  void set_swa(const SwaConfig& swa);

 private:
  StepRates main(int64_t t) const;  // after warmup

  ScheduleConfig c_;
  OptimizerConfig o_;
  int64_t length_ = 0;  // the run's length in the schedule's unit
  double plateau_lr_ = -1;
  SwaConfig swa_;
};

}  // namespace cnne
