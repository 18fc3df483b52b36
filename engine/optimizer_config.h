#pragma once
// The config's training.optimizer: SGD (momentum, dampening, Nesterov,
// coupled or decoupled weight decay), Adam and AdamW (with AMSGrad), RMSprop
// and Adagrad, with PyTorch's names and defaults. Values are kept in double as
// written, so the config round-trips.
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "engine/ops.h"

namespace cnne {

struct OptimizerConfig {
  std::string type = "sgd";  // "sgd", "adam", "adamw", "rmsprop", "adagrad"
  double lr = 0.001;
  double weight_decay = 0.0;  // adamw: 0.01
  // sgd, rmsprop
  double momentum = 0.0;
  // sgd
  double dampening = 0.0;
  bool nesterov = false;
  bool decoupled_weight_decay = false;
  // adam, adamw
  double beta1 = 0.9, beta2 = 0.999;
  bool amsgrad = false;
  double eps = 1e-8;  // adam, adamw, rmsprop; adagrad: 1e-10
  // rmsprop
  double alpha = 0.99;
  bool centered = false;
  // adagrad
  double lr_decay = 0.0;
  double initial_accumulator_value = 0.0;
  // Parameters the weight decay skips (shell wildcards over PyTorch names:
  // "*.bias", "bn*"): PyTorch's second param group with weight_decay 0.
  std::vector<std::string> no_weight_decay;

  bool is_adam() const { return type == "adam" || type == "adamw"; }
  // The momentum a schedule may cycle: SGD's and RMSprop's momentum, Adam's
  // beta1 (Adagrad has none: 0).
  double momentum_like() const { return is_adam() ? beta1 : momentum; }
  // Whether a schedule can cycle momentum_like(): PyTorch's OneCycleLR and
  // CyclicLR need an optimizer with momentum or betas.
  bool has_momentum() const { return type != "adagrad"; }
  // torch.optim's class name: "SGD", "Adam", "AdamW", "RMSprop", "Adagrad".
  std::string display_name() const;
  SgdHyper sgd(double lr_now, double momentum_now) const;
  // The scalars of Adam step t (1-based) at these rates.
  AdamHyper adam(double lr_now, double beta1_now, int64_t t) const;
  RmspropHyper rmsprop(double lr_now, double momentum_now) const;
  // The scalars of Adagrad step t (1-based) at this rate.
  AdagradHyper adagrad(double lr_now, int64_t t) const;

  // Reads and checks the object; errors name `where` and the key.
  static OptimizerConfig from_json(const nlohmann::json& j, const std::string& where);
  // This config with weight_decay 0: the rates of the no_weight_decay group.
  OptimizerConfig without_weight_decay() const;
  nlohmann::json to_json() const;
};

}  // namespace cnne
