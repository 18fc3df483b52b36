#pragma once
// TrainingState: where a run stands, stored as JSON in a checkpoint's
// __metadata__.training_state. It holds everything besides the weights and the
// optimizer's tensors that a resumed run needs to continue exactly
// (docs/CHECKPOINT.md lists the fields).
#include <array>
#include <cstdint>
#include <string>

#include <nlohmann/json.hpp>

#include "engine/plateau.h"

namespace cnne {

struct TrainingState {
  std::string status = "new";  // "complete", "interrupted", "periodic", "stopped"
  int64_t epochs_completed = 0;
  int64_t batches_done = 0;  // batches of the current, unfinished epoch
  int64_t steps = 0;         // optimizer steps taken in all
  uint64_t seed = 0;
  // The shuffling generator's state before the current epoch's shuffle, so a
  // resumed run draws the same order and continues at batches_done.
  std::array<uint64_t, 4> epoch_rng{};
  double running_loss = 0;    // the unprinted part of the tutorial's running loss
  int64_t epoch_correct = 0;  // training images classified right so far this epoch
  int64_t epoch_images = 0;   // training images seen so far this epoch
  double last_loss = -1;      // the last printed mean training loss; < 0 if none
  double test_accuracy = -1;  // percent on the test set after training; < 0 if not measured
  // Percent on the validation set (data.validation) of the best checkpoint's
  // evaluation; < 0 if not measured.
  double validation_accuracy = -1;
  // The best accuracy of the evaluations during training: on the validation
  // set when the config holds one out, else on the test set.
  double best_accuracy = -1;
  int64_t best_epoch = 0;  // the epoch that reached it
  // Dynamic loss scaling (fp16): the scale, its good-step count, steps skipped
  // for overflow; loss_scale 0 when the run did not scale dynamically.
  double loss_scale = 0;
  int64_t loss_scale_good_steps = 0;
  int64_t skipped_steps = 0;
  PlateauState plateau;        // the plateau schedule's rate and counters (engine/plateau.h)
  std::string device;          // where it was trained: "cpu" or "cuda"
  std::string optimizer_file;  // the optimizer-state file beside the checkpoint; "" if none

  nlohmann::json to_json() const;
  // Throws CheckpointError naming `where` if a field has the wrong type.
  static TrainingState from_json(const nlohmann::json& j, const std::string& where);
};

}  // namespace cnne
