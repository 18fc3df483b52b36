#pragma once
// The config's training.optimizer: SGD (momentum, dampening, Nesterov,
// coupled or decoupled weight decay), Adam and AdamW, with PyTorch's names and
// defaults. Values are kept in double as written, so the config round-trips.
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "engine/ops.h"

namespace cnne {

struct OptimizerConfig {
  std::string type = "sgd";  // "sgd", "adam", "adamw"
  double lr = 0.001;
  double weight_decay = 0.0;  // adamw: 0.01
  // sgd
  double momentum = 0.0;
  double dampening = 0.0;
  bool nesterov = false;
  bool decoupled_weight_decay = false;
  // adam, adamw
  double beta1 = 0.9, beta2 = 0.999;
  double eps = 1e-8;
  // Parameters the weight decay skips (shell wildcards over PyTorch names:
  // "*.bias", "bn*"): PyTorch's second param group with weight_decay 0.
  std::vector<std::string> no_weight_decay;

  bool is_adam() const { return type == "adam" || type == "adamw"; }
  // The momentum a schedule may cycle: SGD's momentum, Adam's beta1.
  double momentum_like() const { return is_adam() ? beta1 : momentum; }
  SgdHyper sgd(double lr_now, double momentum_now) const;
  // The scalars of Adam step t (1-based) at these rates.
  AdamHyper adam(double lr_now, double beta1_now, int64_t t) const;

  // Reads and checks the object; errors name `where` and the key.
  static OptimizerConfig from_json(const nlohmann::json& j, const std::string& where);
  // This config with weight_decay 0: the rates of the no_weight_decay group.
  OptimizerConfig without_weight_decay() const;
  nlohmann::json to_json() const;
};

}  // namespace cnne
