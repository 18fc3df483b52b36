#pragma once
// training.swa: stochastic weight averaging (Izmailov et al. 2018), as
// torch.optim.swa_utils does it.
//
// Note [stochastic weight averaging]: from the end of epoch `start_epoch`
// (1-based) on, the weights at the end of every epoch join an equal average
// (AveragedModel's default avg_fn, avg + (w - avg) / (n + 1), held by a
// WeightAverage of kind kEqual), and the learning rate of the epochs after
// start_epoch follows SWALR: annealed from the rate epoch start_epoch trained
// with, L, to `lr` over `anneal_epochs` epochs,
//   lr(start_epoch + k) = lr * a + L * (1 - a),  a = f(min(1, k / max(1, anneal_epochs)))
// with f(t) = (1 - cos(pi t)) / 2 ("cos") or t ("linear"); the epochs up to
// start_epoch follow training.schedule. This is the loop of PyTorch's
// documentation with SWALR made beside the main scheduler before training:
//   for epoch in range(epochs):
//       train(...)
//       if epoch + 1 >= start_epoch: swa_model.update_parameters(model); swa_scheduler.step()
//       else: scheduler.step()
//   torch.optim.swa_utils.update_bn(train_loader, swa_model)
// (the documentation's `if epoch > swa_start` is start_epoch = swa_start + 2).
// An average of weights is not an average of their BatchNorm statistics, so
// the average keeps statistics of its own, recomputed (update_bn: reset, then
// the cumulative mean over one pass, momentum 1/k for the k-th batch) over the
// training images in order, without augmentation, in training batches, before
// it is measured or saved at an epoch's end: before each evaluation during
// training, each epoch checkpoint, and the end of the run. A checkpoint
// written inside an epoch (checkpoint_every_steps, a stop) holds the
// statistics of the last recomputation: it is for --resume, which is exact.
// Evaluations, checkpoints and the final accuracies are the average's once it
// exists (Note [averaged weights in checkpoints] in engine/weight_average.h).
#include <cstdint>
#include <string>

#include <nlohmann/json.hpp>

namespace cnne {

struct SwaConfig {
  int64_t start_epoch = 0;  // the first epoch whose end is averaged; 0 = off
  double lr = 0;            // SWALR's swa_lr
  int64_t anneal_epochs = 10;
  std::string anneal_strategy = "cos";  // or "linear"

  bool enabled() const { return start_epoch > 0; }
  // ConfigError naming `where`: training.swa and the key.
  static SwaConfig from_json(const nlohmann::json& j, const std::string& where);
  nlohmann::json to_json() const;
  // "Stochastic weight averaging: ..." for the run's start (batchnorm: the
  // network has BatchNorm, whose statistics are recomputed for the average).
  std::string describe(int64_t epochs, bool batchnorm) const;
};

// SWALR's rate k >= 1 epochs after start_epoch, annealing from `start_lr`
// (the rate of epoch start_epoch).
double swa_learning_rate(const SwaConfig& swa, double start_lr, int64_t k);

}  // namespace cnne
