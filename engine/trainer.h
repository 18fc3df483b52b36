#pragma once
// Trainer: the tutorial's loop. Per step: load batch, forward, softmax
// cross-entropy (loss and d(logits) in one op), backward, SGD update. Prints
//   [Epoch: 1, Batch: 2000] Loss: 2.208
// every log_every batches, and per epoch the wall time and images/s.
#include <ostream>

#include "engine/checkpoint.h"
#include "engine/config.h"
#include "engine/context.h"
#include "engine/dataset.h"
#include "engine/network.h"
#include "engine/rng.h"

namespace cnne {

struct EpochReport {
  int64_t epoch = 0;  // 1-based
  int64_t batches = 0;
  double seconds = 0;
  double images_per_second = 0;
  double train_accuracy = 0;  // percent, over the epoch
};

class Trainer {
 public:
  // net must be set up for config.training.batch_size; rng drives the shuffles.
  Trainer(Context& ctx, const Config& config, Network& net, Rng& rng);

  // Trains config.training.epochs epochs on `data`; returns the state reached.
  TrainingState train(const ImageDataset& data, std::ostream& out);
  const std::vector<EpochReport>& epochs() const { return reports_; }

 private:
  Context& ctx_;
  const Config& config_;
  Network& net_;
  Rng& rng_;
  std::vector<EpochReport> reports_;
};

}  // namespace cnne
