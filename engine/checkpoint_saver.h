#pragma once
// CheckpointSaver: the training checkpoints of one run.
//
// Note [optimizer state beside the checkpoint]: a checkpoint's own tensors are
// exactly the network's parameters (PyTorch's load_state_dict takes the file
// as is); the optimizer's tensors go to a second safetensors file beside it,
// "<stem>.optimizer.step-<N>.safetensors", named in the checkpoint's
// training_state.optimizer_file. The optimizer file is written first, then
// the checkpoint, then stale optimizer files are removed; each write is
// atomic. Whenever the process dies, the checkpoint on disk (old or new)
// names an optimizer file that exists.
//
// Periodic checkpoints are "<stem>.step-<N>.safetensors"; only the newest
// keep_checkpoints of them stay.
#include <string>
#include <vector>

#include "engine/checkpoint.h"
#include "engine/config.h"
#include "engine/network.h"
#include "engine/optimizer.h"
#include "engine/weight_average.h"

namespace cnne {

class CheckpointSaver {
 public:
  CheckpointSaver(const Config& config, const Network& net, const Optimizer& optimizer);
  // With an average (training.ema_decay), checkpoints hold it and the
  // optimizer file the training weights (Note [averaged weights in checkpoints]).
  void set_average(WeightAverage* average) { average_ = average; }

  // Writes the optimizer file and the checkpoint at `path` (see the Note).
  void save(const std::string& path, TrainingState state) const;
  // Writes "<stem>.step-<steps>.safetensors" and drops the oldest beyond the
  // retention count; returns the path written.
  std::string save_periodic(const TrainingState& state) const;

 private:
  const Config& config_;
  const Network& net_;
  const Optimizer& optimizer_;
  WeightAverage* average_ = nullptr;
};

// A checkpoint and its optimizer state, read for `train --resume`. Errors name
// the files: no training state, a missing optimizer file, a step mismatch.
struct ResumePoint {
  Checkpoint checkpoint;
  Safetensors optimizer;
  std::string optimizer_path;
};
ResumePoint read_resume_point(const std::string& path);

// "<dir>/<stem>.optimizer.step-<step>.safetensors" for checkpoint `path`.
std::string optimizer_state_path(const std::string& path, int64_t step);
// "<stem>.best.safetensors": the best checkpoint of evaluations during training.
std::string best_checkpoint_path(const std::string& path);
// The periodic checkpoints of `path` on disk, oldest first.
std::vector<std::string> periodic_checkpoints(const std::string& path);

}  // namespace cnne
