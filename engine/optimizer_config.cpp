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
  if (o.type != "sgd" && o.type != "adam" && o.type != "adamw")
    throw ConfigError(f.error("type", "is '" + o.type + "', expected sgd, adam or adamw"));
  o.lr = f.get_number("lr");
  if (!(o.lr > 0) || !std::isfinite(o.lr)) throw ConfigError(f.error("lr", "must be > 0"));
  o.weight_decay = f.get_number("weight_decay", o.type == "adamw" ? 0.01 : 0.0);
  check_range(f, "weight_decay", o.weight_decay, 0, 1e9, false, "[0, inf)");
  o.no_weight_decay = f.get_strings("no_weight_decay", {});
  for (const std::string& pattern : o.no_weight_decay)
    if (pattern.empty()) throw ConfigError(f.error("no_weight_decay", "holds an empty pattern"));
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
  } else {
    const auto betas = f.get_numbers("betas", {0.9, 0.999});
    o.eps = f.get_number("eps", 1e-8);
    if (f.has("amsgrad") && f.get_bool("amsgrad", false))
      throw ConfigError(f.error("amsgrad", "is not supported; use false"));
    f.allow("amsgrad");
    f.finish();
    if (betas.size() != 2) throw ConfigError(f.error("betas", "must be [beta1, beta2]"));
    o.beta1 = betas[0];
    o.beta2 = betas[1];
    check_range(f, "betas", o.beta1, 0, 1, true, "[0, 1) each");
    check_range(f, "betas", o.beta2, 0, 1, true, "[0, 1) each");
    if (!(o.eps > 0) || !std::isfinite(o.eps)) throw ConfigError(f.error("eps", "must be > 0"));
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
  } else {
    j["betas"] = {beta1, beta2};
    j["eps"] = eps;
  }
  if (!no_weight_decay.empty()) j["no_weight_decay"] = no_weight_decay;
  return j;
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

}  // namespace cnne
