#pragma once
// The state and the rule of the "plateau" schedule: PyTorch's
// torch.optim.lr_scheduler.ReduceLROnPlateau, stepped once per evaluation
// during training with the evaluation's accuracy (mode "max") or mean loss
// (mode "min"). The state is part of a run's TrainingState, so a resumed run
// continues with the same rate, best value and counters.
#include <cstdint>

#include <nlohmann/json.hpp>

#include "engine/schedule.h"

namespace cnne {

struct PlateauState {
  double lr = -1;         // the rate in force; < 0: the optimizer's, not yet lowered
  bool has_best = false;  // PyTorch starts best at -inf (max) or +inf (min)
  double best = 0;
  int64_t bad_evaluations = 0;  // num_bad_epochs: evaluations in a row not better than best
  int64_t cooldown_left = 0;    // cooldown_counter
  int64_t reductions = 0;       // how often the rate was lowered (for reports)

  nlohmann::json to_json() const;
  // Throws CheckpointError naming `where` if a field has the wrong type.
  static PlateauState from_json(const nlohmann::json& j, const std::string& where);
};

// ReduceLROnPlateau.step(metric): updates `s` and returns true when it
// lowered the rate. `base_lr` is the optimizer's rate (the one in force while
// s.lr < 0).
bool plateau_step(const ScheduleConfig& c, double base_lr, double metric, PlateauState& s);

}  // namespace cnne
