#pragma once
// StepGraph: a training step captured once as a CUDA graph and replayed every
// step after (issue 4): one launch instead of dozens, no host work in between.
// What the step must obey is Note [graph-safe step arguments] (engine/ops.h):
// its per-step values come from StepArgs' device copy, and it allocates,
// synchronizes and reads nothing on the host. On the CPU, or a build without
// CUDA, supported() is false and the trainer runs the step eagerly.
#include <functional>
#include <memory>

#include "engine/context.h"

namespace cnne {

class StepGraph {
 public:
  explicit StepGraph(Context& ctx);
  ~StepGraph();
  StepGraph(const StepGraph&) = delete;
  StepGraph& operator=(const StepGraph&) = delete;

  bool supported() const;
  bool captured() const;
  // Records what `enqueue` launches on the context's stream (nothing runs).
  void capture(const std::function<void()>& enqueue);
  // Launches the captured step on the context's stream.
  void replay();

 private:
  [[maybe_unused]] Context& ctx_;  // read only by the CUDA implementation
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace cnne
