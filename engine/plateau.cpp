#include "engine/plateau.h"

#include <algorithm>

#include "engine/error.h"

namespace cnne {
namespace {

// ReduceLROnPlateau's is_better: rel compares with best * (1 +- threshold),
// abs with best +- threshold; mode max for accuracy, min for loss.
bool is_better(const ScheduleConfig& c, double metric, const PlateauState& s) {
  if (!s.has_best) return true;  // anything beats the initial -inf / +inf
  const bool rel = c.threshold_mode == "rel";
  if (c.metric == "loss") return metric < (rel ? s.best * (1 - c.threshold) : s.best - c.threshold);
  return metric > (rel ? s.best * (1 + c.threshold) : s.best + c.threshold);
}

}  // namespace

bool plateau_step(const ScheduleConfig& c, double base_lr, double metric, PlateauState& s) {
  if (is_better(c, metric, s)) {
    s.best = metric;
    s.has_best = true;
    s.bad_evaluations = 0;
  } else {
    ++s.bad_evaluations;
  }
  if (s.cooldown_left > 0) {  // in_cooldown
    --s.cooldown_left;
    s.bad_evaluations = 0;
  }
  if (s.bad_evaluations <= c.patience) return false;
  s.cooldown_left = c.cooldown;
  s.bad_evaluations = 0;
  const double old_lr = s.lr < 0 ? base_lr : s.lr;
  const double new_lr = std::max(old_lr * c.factor, c.min_lr);
  if (!(old_lr - new_lr > c.plateau_eps)) return false;
  s.lr = new_lr;
  ++s.reductions;
  return true;
}

nlohmann::json PlateauState::to_json() const {
  return {{"lr", lr},
          {"best", has_best ? nlohmann::json(best) : nlohmann::json(nullptr)},
          {"bad_evaluations", bad_evaluations},
          {"cooldown_left", cooldown_left},
          {"reductions", reductions}};
}

PlateauState PlateauState::from_json(const nlohmann::json& j, const std::string& where) {
  PlateauState s;
  const auto fail = [&](const std::string& key, const char* expected) {
    throw CheckpointError(where + ": training_state.plateau." + key + " must be " + expected);
  };
  if (!j.is_object()) throw CheckpointError(where + ": training_state.plateau must be an object");
  const auto number = [&](const char* key, double& to) {
    if (!j.contains(key)) return;
    if (!j[key].is_number()) fail(key, "a number");
    to = j[key].get<double>();
  };
  const auto count = [&](const char* key, int64_t& to) {
    if (!j.contains(key)) return;
    if (!j[key].is_number_integer() || j[key].get<int64_t>() < 0) fail(key, "an integer >= 0");
    to = j[key].get<int64_t>();
  };
  number("lr", s.lr);
  if (j.contains("best") && !j["best"].is_null()) {
    number("best", s.best);
    s.has_best = true;
  }
  count("bad_evaluations", s.bad_evaluations);
  count("cooldown_left", s.cooldown_left);
  count("reductions", s.reductions);
  return s;
}

}  // namespace cnne
