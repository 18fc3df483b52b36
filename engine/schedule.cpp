#include "engine/schedule.h"

#include <algorithm>
#include <cmath>
#include <numbers>

#include "engine/error.h"
#include "engine/json_fields.h"

namespace cnne {
namespace {

// ReduceLROnPlateau's arguments; its clock is the evaluations, so unit
// "epoch" only and no warmup (PyTorch cannot chain it in SequentialLR either).
void parse_plateau(JsonFields& f, ScheduleConfig& c) {
  c.metric = f.get_string("metric", "accuracy");
  if (c.metric != "accuracy" && c.metric != "loss")
    throw ConfigError(f.error("metric", "is '" + c.metric +
                                            "', expected \"accuracy\" (higher is better) or "
                                            "\"loss\" (lower is better)"));
  c.factor = f.get_number("factor", 0.1);
  c.patience = f.get_int("patience", 10);
  c.threshold = f.get_number("threshold", 1e-4);
  c.threshold_mode = f.get_string("threshold_mode", "rel");
  c.cooldown = f.get_int("cooldown", 0);
  c.min_lr = f.get_number("min_lr", 0.0);
  c.plateau_eps = f.get_number("eps", 1e-8);
  if (!(c.factor > 0 && c.factor < 1)) throw ConfigError(f.error("factor", "must be in (0, 1)"));
  if (c.patience < 0) throw ConfigError(f.error("patience", "must be >= 0 (evaluations)"));
  if (!(c.threshold >= 0)) throw ConfigError(f.error("threshold", "must be >= 0"));
  if (c.threshold_mode != "rel" && c.threshold_mode != "abs")
    throw ConfigError(f.error("threshold_mode", "must be \"rel\" or \"abs\""));
  if (c.cooldown < 0) throw ConfigError(f.error("cooldown", "must be >= 0 (evaluations)"));
  if (!(c.min_lr >= 0)) throw ConfigError(f.error("min_lr", "must be >= 0"));
  if (!(c.plateau_eps >= 0)) throw ConfigError(f.error("eps", "must be >= 0"));
  if (c.unit != "epoch")
    throw ConfigError(f.error("unit", "must be \"epoch\" for plateau (it acts after evaluations)"));
  if (c.warmup != 0)
    throw ConfigError(f.error("warmup", "is not taken by plateau (ReduceLROnPlateau has none)"));
}

}  // namespace

ScheduleConfig ScheduleConfig::from_json(const nlohmann::json& j, const std::string& where) {
  ScheduleConfig c;
  JsonFields f(j, where + ": training.schedule");
  c.type = f.get_string("type", "constant");
  const bool cyclic = c.type == "onecycle" || c.type == "cyclic";
  if (c.type != "constant" && c.type != "step" && c.type != "multistep" && c.type != "cosine" &&
      c.type != "cosine_restarts" && c.type != "exponential" && c.type != "polynomial" &&
      c.type != "plateau" && !cyclic)
    throw ConfigError(f.error("type", "is '" + c.type +
                                          "', expected constant, step, multistep, cosine, "
                                          "cosine_restarts, exponential, polynomial, onecycle, "
                                          "cyclic or plateau"));
  c.unit = f.get_string("unit", cyclic ? "step" : "epoch");
  if (c.unit != "epoch" && c.unit != "step")
    throw ConfigError(f.error("unit", "must be \"epoch\" or \"step\""));
  c.warmup = f.get_int("warmup", 0);
  c.warmup_start_factor = f.get_number("warmup_start_factor", 0.1);
  if (c.warmup < 0) throw ConfigError(f.error("warmup", "must be >= 0"));
  if (!(c.warmup_start_factor > 0 && c.warmup_start_factor <= 1))
    throw ConfigError(f.error("warmup_start_factor", "must be in (0, 1]"));
  if (c.type == "step") {
    c.step_size = f.get_int("step_size");
    c.gamma = f.get_number("gamma", 0.1);
    if (c.step_size < 1) throw ConfigError(f.error("step_size", "must be >= 1"));
  } else if (c.type == "multistep") {
    for (double m : f.get_numbers("milestones", {}))
      c.milestones.push_back(static_cast<int64_t>(m));
    if (!f.has("milestones")) f.get_raw("milestones");
    c.gamma = f.get_number("gamma", 0.1);
    if (!std::is_sorted(c.milestones.begin(), c.milestones.end()))
      throw ConfigError(f.error("milestones", "must be increasing"));
  } else if (c.type == "cosine") {
    c.t_max = f.get_int("t_max", 0);
    c.eta_min = f.get_number("eta_min", 0.0);
    if (c.t_max < 0) throw ConfigError(f.error("t_max", "must be >= 0 (0 = the whole run)"));
  } else if (c.type == "cosine_restarts") {
    c.t_0 = f.get_int("t_0");
    c.t_mult = f.get_int("t_mult", 1);
    c.eta_min = f.get_number("eta_min", 0.0);
    if (c.t_0 < 1) throw ConfigError(f.error("t_0", "must be >= 1 (units in the first cycle)"));
    if (c.t_mult < 1 || c.t_mult > 1000)
      throw ConfigError(f.error("t_mult", "must be an integer in 1..1000"));
  } else if (c.type == "exponential") {
    c.gamma = f.get_number("gamma");  // no default: ExponentialLR has none
  } else if (c.type == "polynomial") {
    c.total_iters = f.get_int("total_iters", 0);
    c.power = f.get_number("power", 1.0);
    if (c.total_iters < 0)
      throw ConfigError(f.error("total_iters", "must be >= 0 (0 = the whole run)"));
    if (!(c.power > 0)) throw ConfigError(f.error("power", "must be > 0"));
  } else if (cyclic) {
    c.max_lr = f.get_number("max_lr");
    if (!(c.max_lr > 0)) throw ConfigError(f.error("max_lr", "must be > 0"));
    c.cycle_momentum = f.get_bool("cycle_momentum", true);
    c.base_momentum = f.get_number("base_momentum", c.type == "onecycle" ? 0.85 : 0.8);
    c.max_momentum = f.get_number("max_momentum", c.type == "onecycle" ? 0.95 : 0.9);
    if (c.type == "onecycle") {
      c.pct_start = f.get_number("pct_start", 0.3);
      c.div_factor = f.get_number("div_factor", 25.0);
      c.final_div_factor = f.get_number("final_div_factor", 1e4);
      if (!(c.pct_start > 0 && c.pct_start < 1))
        throw ConfigError(f.error("pct_start", "must be in (0, 1)"));
      if (c.unit != "step") throw ConfigError(f.error("unit", "must be \"step\" for onecycle"));
    } else {
      c.step_size_up = f.get_int("step_size_up", 2000);
      if (c.step_size_up < 1) throw ConfigError(f.error("step_size_up", "must be >= 1"));
    }
  } else if (c.type == "plateau") {
    parse_plateau(f, c);
  }
  if (!(c.gamma > 0)) throw ConfigError(f.error("gamma", "must be > 0"));
  f.finish();
  return c;
}

nlohmann::json ScheduleConfig::to_json() const {
  nlohmann::json j = {{"type", type}, {"unit", unit}};
  if (warmup) {
    j["warmup"] = warmup;
    j["warmup_start_factor"] = warmup_start_factor;
  }
  if (type == "step") {
    j["step_size"] = step_size;
    j["gamma"] = gamma;
  } else if (type == "multistep") {
    j["milestones"] = milestones;
    j["gamma"] = gamma;
  } else if (type == "cosine") {
    j["t_max"] = t_max;
    j["eta_min"] = eta_min;
  } else if (type == "cosine_restarts") {
    j["t_0"] = t_0;
    j["t_mult"] = t_mult;
    j["eta_min"] = eta_min;
  } else if (type == "exponential") {
    j["gamma"] = gamma;
  } else if (type == "polynomial") {
    j["total_iters"] = total_iters;
    j["power"] = power;
  } else if (type == "onecycle" || type == "cyclic") {
    j["max_lr"] = max_lr;
    j["cycle_momentum"] = cycle_momentum;
    j["base_momentum"] = base_momentum;
    j["max_momentum"] = max_momentum;
    if (type == "onecycle") {
      j["pct_start"] = pct_start;
      j["div_factor"] = div_factor;
      j["final_div_factor"] = final_div_factor;
    } else {
      j["step_size_up"] = step_size_up;
    }
  } else if (type == "plateau") {
    j["metric"] = metric;
    j["factor"] = factor;
    j["patience"] = patience;
    j["threshold"] = threshold;
    j["threshold_mode"] = threshold_mode;
    j["cooldown"] = cooldown;
    j["min_lr"] = min_lr;
    j["eps"] = plateau_eps;
  }
  return j;
}

LrSchedule::LrSchedule(const ScheduleConfig& config, const OptimizerConfig& optimizer,
                       int64_t epochs, int64_t steps_per_epoch)
    : c_(config), o_(optimizer) {
  length_ = (c_.unit == "step" ? epochs * steps_per_epoch : epochs) - c_.warmup;
  if (length_ < 1) length_ = 1;
}

void LrSchedule::set_swa(const SwaConfig& swa) {
  if (swa.enabled() && c_.unit != "epoch")
    throw ConfigError(
        "training.swa: the schedule's unit must be \"epoch\" (SWALR steps per epoch)");
  swa_ = swa;
}

StepRates LrSchedule::at(int64_t epochs_completed, int64_t steps) const {
  if (swa_.enabled() && epochs_completed >= swa_.start_epoch) {
    StepRates r = at(swa_.start_epoch - 1, steps);  // the rate of epoch start_epoch
    r.lr = swa_learning_rate(swa_, r.lr, epochs_completed - swa_.start_epoch + 1);
    return r;
  }
  const int64_t t = c_.unit == "step" ? steps : epochs_completed;
  if (t < c_.warmup) {  // LinearLR(start_factor, 1.0, total_iters=warmup)
    const double f = c_.warmup_start_factor + (1.0 - c_.warmup_start_factor) *
                                                  static_cast<double>(t) /
                                                  static_cast<double>(c_.warmup);
    StepRates r = main(0);
    r.lr *= f;
    return r;
  }
  return main(t - c_.warmup);
}

StepRates LrSchedule::main(int64_t t) const {
  const double pi = std::numbers::pi;
  StepRates r{o_.lr, o_.momentum_like()};
  if (c_.type == "step") {
    r.lr = o_.lr * std::pow(c_.gamma, static_cast<double>(t / c_.step_size));
  } else if (c_.type == "multistep") {
    const auto passed =
        std::upper_bound(c_.milestones.begin(), c_.milestones.end(), t) - c_.milestones.begin();
    r.lr = o_.lr * std::pow(c_.gamma, static_cast<double>(passed));
  } else if (c_.type == "cosine") {
    const double t_max = static_cast<double>(c_.t_max > 0 ? c_.t_max : length_);
    r.lr =
        c_.eta_min + (o_.lr - c_.eta_min) * (1 + std::cos(pi * static_cast<double>(t) / t_max)) / 2;
  } else if (c_.type == "cosine_restarts") {
    // CosineAnnealingWarmRestarts steps t_cur and moves to the next, t_mult
    // times longer cycle when it reaches the cycle's length: the same in integers.
    int64_t t_cur = t, t_i = c_.t_0;
    while (t_cur >= t_i) {
      t_cur -= t_i;
      if (t_i > (INT64_MAX / 2) / c_.t_mult) break;  // no run is this long: the last cycle
      t_i *= c_.t_mult;
    }
    r.lr = c_.eta_min +
           (o_.lr - c_.eta_min) *
               (1 + std::cos(pi * static_cast<double>(t_cur) / static_cast<double>(t_i))) / 2;
  } else if (c_.type == "exponential") {
    r.lr = o_.lr * std::pow(c_.gamma, static_cast<double>(t));
  } else if (c_.type == "polynomial") {
    const int64_t total = c_.total_iters > 0 ? c_.total_iters : length_;
    const double done = static_cast<double>(std::min(t, total)) / static_cast<double>(total);
    r.lr = o_.lr * std::pow(1.0 - done, c_.power);
  } else if (c_.type == "onecycle") {
    // OneCycleLR, anneal_strategy="cos", three_phase=False.
    const double total = static_cast<double>(length_);
    const double initial = c_.max_lr / c_.div_factor, minimum = initial / c_.final_div_factor;
    const double up_end = c_.pct_start * total - 1, down_end = total - 1;
    auto anneal = [&](double start, double end, double pct) {
      return end + (start - end) / 2.0 * (std::cos(pi * pct) + 1);
    };
    const double step = static_cast<double>(t);
    if (step <= up_end) {
      const double pct = step / up_end;
      r.lr = anneal(initial, c_.max_lr, pct);
      if (c_.cycle_momentum) r.momentum = anneal(c_.max_momentum, c_.base_momentum, pct);
    } else {
      const double pct = (step - up_end) / (down_end - up_end);
      r.lr = anneal(c_.max_lr, minimum, pct);
      if (c_.cycle_momentum) r.momentum = anneal(c_.base_momentum, c_.max_momentum, pct);
    }
  } else if (c_.type == "plateau") {
    if (plateau_lr_ >= 0) r.lr = plateau_lr_;
  } else if (c_.type == "cyclic") {
    // CyclicLR(base_lr = the optimizer's lr, max_lr, step_size_up, mode="triangular").
    const double step = static_cast<double>(t), up = static_cast<double>(c_.step_size_up);
    const double cycle = std::floor(1 + step / (2 * up));
    const double x = std::fabs(step / up - 2 * cycle + 1);
    const double scale = std::max(0.0, 1 - x);
    r.lr = o_.lr + (c_.max_lr - o_.lr) * scale;
    if (c_.cycle_momentum)
      r.momentum = c_.max_momentum - (c_.max_momentum - c_.base_momentum) * scale;
  }
  return r;
}

}  // namespace cnne
