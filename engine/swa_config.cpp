#include "engine/swa_config.h"

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <numbers>

#include "engine/error.h"
#include "engine/json_fields.h"

namespace cnne {

SwaConfig SwaConfig::from_json(const nlohmann::json& j, const std::string& where) {
  SwaConfig c;
  JsonFields f(j, where + ": training.swa");
  c.start_epoch = f.get_int("start_epoch");
  c.lr = f.get_number("lr");
  c.anneal_epochs = f.get_int("anneal_epochs", c.anneal_epochs);
  c.anneal_strategy = f.get_string("anneal_strategy", c.anneal_strategy);
  f.finish();
  if (c.start_epoch < 1)
    throw ConfigError(
        f.error("start_epoch", "must be >= 1 (the first epoch whose end is averaged)"));
  if (!(c.lr > 0) || !std::isfinite(c.lr))
    throw ConfigError(f.error("lr", "must be a positive number (SWALR's swa_lr)"));
  if (c.anneal_epochs < 0) throw ConfigError(f.error("anneal_epochs", "must be >= 0"));
  if (c.anneal_strategy != "cos" && c.anneal_strategy != "linear")
    throw ConfigError(f.error("anneal_strategy",
                              "is '" + c.anneal_strategy + "', expected \"cos\" or \"linear\""));
  return c;
}

nlohmann::json SwaConfig::to_json() const {
  return {{"start_epoch", start_epoch},
          {"lr", lr},
          {"anneal_epochs", anneal_epochs},
          {"anneal_strategy", anneal_strategy}};
}

std::string SwaConfig::describe(int64_t epochs, bool batchnorm) const {
  char text[320];
  std::snprintf(text, sizeof text,
                "Stochastic weight averaging: the weights at the end of epochs %lld..%lld "
                "averaged equally, lr annealed (%s) to %.6g over %lld epochs; %sevaluations and "
                "checkpoints use the average",
                static_cast<long long>(start_epoch), static_cast<long long>(epochs),
                anneal_strategy.c_str(), lr, static_cast<long long>(anneal_epochs),
                batchnorm ? "its BatchNorm statistics recomputed over the training images; " : "");
  return text;
}

double swa_learning_rate(const SwaConfig& swa, double start_lr, int64_t k) {
  const double t = std::clamp(
      static_cast<double>(k) / static_cast<double>(std::max<int64_t>(1, swa.anneal_epochs)), 0.0,
      1.0);
  const double a = swa.anneal_strategy == "linear" ? t : (1 - std::cos(std::numbers::pi * t)) / 2;
  return swa.lr * a + start_lr * (1 - a);
}

}  // namespace cnne
