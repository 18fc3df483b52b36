#include "engine/optimizer_config.h"

#include <cmath>

#include "engine/error.h"
#include "engine/json_fields.h"

namespace cnne {
namespace {

void check_range(const JsonFields& f, const std::string& key, double v, double lo, double hi,
                 bool hi_open, const std::string& text) {
  if (!std::isfinite(v) || v < lo || v > hi || (hi_open && v == hi))
    throw ConfigError(f.error(key, "must be in " + text));
}

}  // namespace

OptimizerConfig OptimizerConfig::from_json(const nlohmann::json& j, const std::string& where) {
  OptimizerConfig o;
  JsonFields f(j, where + ": training.optimizer");
  o.type = f.get_string("type", "sgd");
  if (o.type != "sgd" && o.type != "adam" && o.type != "adamw" && o.type != "rmsprop" &&
      o.type != "adagrad")
    throw ConfigError(
        f.error("type", "is '" + o.type + "', expected sgd, adam, adamw, rmsprop or adagrad"));
  o.lr = f.get_number("lr");
  if (!(o.lr > 0) || !std::isfinite(o.lr)) throw ConfigError(f.error("lr", "must be > 0"));
  o.weight_decay = f.get_number("weight_decay", o.type == "adamw" ? 0.01 : 0.0);
  check_range(f, "weight_decay", o.weight_decay, 0, 1e9, false, "[0, inf)");
  o.no_weight_decay = f.get_strings("no_weight_decay", {});
  for (const std::string& pattern : o.no_weight_decay)
    if (pattern.empty()) throw ConfigError(f.error("no_weight_decay", "holds an empty pattern"));
  if (o.type != "sgd") {  // every other one divides by a root plus eps
    o.eps = f.get_number("eps", o.type == "adagrad" ? 1e-10 : 1e-8);
    // eps 0 would divide 0 by 0 where a gradient stays 0
    if (!(o.eps > 0) || !std::isfinite(o.eps)) throw ConfigError(f.error("eps", "must be > 0"));
  }
  if (o.type == "sgd") {
    o.momentum = f.get_number("momentum", 0.0);
    o.dampening = f.get_number("dampening", 0.0);
    o.nesterov = f.get_bool("nesterov", false);
    o.decoupled_weight_decay = f.get_bool("decoupled_weight_decay", false);
    f.finish();
    check_range(f, "momentum", o.momentum, 0, 1, true, "[0, 1)");
    check_range(f, "dampening", o.dampening, 0, 1, false, "[0, 1]");
    if (o.nesterov && (o.momentum == 0 || o.dampening != 0))
      throw ConfigError(f.error("nesterov", "needs momentum > 0 and dampening 0 (as in PyTorch)"));
  } else if (o.type == "rmsprop") {
    o.alpha = f.get_number("alpha", 0.99);
    o.momentum = f.get_number("momentum", 0.0);
    o.centered = f.get_bool("centered", false);
    f.finish();
    check_range(f, "alpha", o.alpha, 0, 1, false, "[0, 1] (the square average's smoothing)");
    check_range(f, "momentum", o.momentum, 0, 1, true, "[0, 1)");
  } else if (o.type == "adagrad") {
    o.lr_decay = f.get_number("lr_decay", 0.0);
    o.initial_accumulator_value = f.get_number("initial_accumulator_value", 0.0);
    f.finish();
    check_range(f, "lr_decay", o.lr_decay, 0, 1e9, false, "[0, inf)");
    check_range(f, "initial_accumulator_value", o.initial_accumulator_value, 0, 1e30, false,
                "[0, inf)");
  } else {
    const auto betas = f.get_numbers("betas", {0.9, 0.999});
    o.amsgrad = f.get_bool("amsgrad", false);
    f.finish();
    if (betas.size() != 2) throw ConfigError(f.error("betas", "must be [beta1, beta2]"));
    o.beta1 = betas[0];
    o.beta2 = betas[1];
    check_range(f, "betas", o.beta1, 0, 1, true, "[0, 1) each");
    check_range(f, "betas", o.beta2, 0, 1, true, "[0, 1) each");
    o.decoupled_weight_decay = o.type == "adamw";
  }
  return o;
}

nlohmann::json OptimizerConfig::to_json() const {
  nlohmann::json j = {{"type", type}, {"lr", lr}, {"weight_decay", weight_decay}};
  if (type == "sgd") {
    j["momentum"] = momentum;
    j["dampening"] = dampening;
    j["nesterov"] = nesterov;
    j["decoupled_weight_decay"] = decoupled_weight_decay;
  } else if (type == "rmsprop") {
    j["alpha"] = alpha;
    j["eps"] = eps;
    j["momentum"] = momentum;
    j["centered"] = centered;
  } else if (type == "adagrad") {
    j["lr_decay"] = lr_decay;
    j["initial_accumulator_value"] = initial_accumulator_value;
    j["eps"] = eps;
  } else {
    j["betas"] = {beta1, beta2};
    j["eps"] = eps;
    j["amsgrad"] = amsgrad;
  }
  if (!no_weight_decay.empty()) j["no_weight_decay"] = no_weight_decay;
  return j;
}

std::string OptimizerConfig::display_name() const {
  if (type == "sgd") return "SGD";
  if (type == "adam") return "Adam";
  if (type == "adamw") return "AdamW";
  if (type == "rmsprop") return "RMSprop";
  if (type == "adagrad") return "Adagrad";
  return type;
}

OptimizerConfig OptimizerConfig::without_weight_decay() const {
  OptimizerConfig o = *this;
  o.weight_decay = 0.0;
  o.no_weight_decay.clear();
  return o;
}

SgdHyper OptimizerConfig::sgd(double lr_now, double momentum_now) const {
  SgdHyper h;
  h.lr = static_cast<float>(lr_now);
  h.momentum = static_cast<float>(momentum_now);
  h.dampening = static_cast<float>(dampening);
  h.weight_decay = decoupled_weight_decay ? 0.0f : static_cast<float>(weight_decay);
  h.nesterov = nesterov;
  h.decay_factor = decoupled_weight_decay ? static_cast<float>(1.0 - lr_now * weight_decay) : 1.0f;
  return h;
}

AdamHyper OptimizerConfig::adam(double lr_now, double beta1_now, int64_t t) const {
  const auto f = [](double v) { return static_cast<float>(v); };
  AdamHyper h;
  h.beta1 = f(beta1_now);
  h.one_minus_beta1 = f(1.0 - beta1_now);
  h.beta2 = f(beta2);
  h.one_minus_beta2 = f(1.0 - beta2);
  adam_bias_corrections(lr_now, beta1_now, beta2, t, &h.step_size, &h.bias_correction2_sqrt);
  h.lr = lr_now;
  h.beta1_d = beta1_now;
  h.beta2_d = beta2;
  h.step = t;
  h.eps = f(eps);
  h.weight_decay = decoupled_weight_decay ? 0.0f : f(weight_decay);
  h.decay_factor = decoupled_weight_decay ? f(1.0 - lr_now * weight_decay) : 1.0f;
  return h;
}

RmspropHyper OptimizerConfig::rmsprop(double lr_now, double momentum_now) const {
  const auto f = [](double v) { return static_cast<float>(v); };
  RmspropHyper h;
  h.neg_lr = f(-lr_now);
  h.alpha = f(alpha);
  h.one_minus_alpha = f(1.0 - alpha);
  h.eps = f(eps);
  h.weight_decay = f(weight_decay);
  h.momentum = f(momentum_now);
  return h;
}

AdagradHyper OptimizerConfig::adagrad(double lr_now, int64_t t) const {
  AdagradHyper h;
  h.lr = lr_now;
  h.lr_decay = lr_decay;
  h.step = t;
  h.neg_clr = adagrad_neg_clr(lr_now, lr_decay, t);
  h.eps = static_cast<float>(eps);
  h.weight_decay = static_cast<float>(weight_decay);
  return h;
}

}  // namespace cnne
