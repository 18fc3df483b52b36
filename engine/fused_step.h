#pragma once
// FusedStep: the whole training step of a small chain network (the tutorial's
// SimpleCNN and its kin) in one launch, for many steps at a time.
//
// Note [fused step]: at the tutorial's batch of 4 a step is about 15 MFLOP,
// and the layer path spends it in ~40 kernels (cuDNN, cuBLAS, ours), each
// mostly launch latency, even when a CUDA graph replays them (0.18 ms per
// step on an H200). Here the step is a fixed list of phases (each layer's
// forward, the loss, each layer's backward, the update, the next batch) run
// by one cooperative kernel that waits for the whole grid between phases, and
// loops over up to kMaxSteps steps without returning to the host. The phases
// (engine/fused_phases.h) are host-device functions over independent work
// items, so the CPU runs the same code with one thread (the reference the
// tests compare with the layer path), and the GPU with thousands. A max-pool
// whose windows tile its input has no phases of its own: the conv before it
// and the stage after it do its work (the tutorial: 12 phases, not 16).
//
// It takes conv2d (with bias or not, any window, stride and padding), linear,
// maxpool2d, relu and flatten layers in a chain, fp32, SGD (momentum,
// dampening, Nesterov, weight decay) or Adam/AdamW, any schedule, label
// smoothing and the crop/flip/cutout/random-erasing augmentation; anything else is refused with the reason
// (unsupported_reason), and the layer path runs it. The weights, gradients and
// momentum it writes are the network's and the optimizer's own, so
// checkpoints, evaluation and resuming are those of the layer path.
#include <cstdint>
#include <string>
#include <utility>
#include <vector>

#include "engine/buffer.h"
#include "engine/config.h"
#include "engine/context.h"
#include "engine/device_dataset.h"
#include "engine/fused_plan.h"
#include "engine/network.h"
#include "engine/optimizer.h"

namespace cnne {

class FusedStep {
 public:
  // The most steps one run() takes.
  static constexpr int64_t kMaxSteps = 512;

  // "" when the fused step can train `net` with `config`, else why not (the
  // layer or key, and what is supported).
  static std::string unsupported_reason(const Network& net, const Config& config);

  // `net` must be set up for batches up to config.training.batch_size. The
  // meters (LossMeter's loss_sum (1) F32, correct (1) I32) and the NaN/Inf
  // count (1) I32 live on ctx's device and are added to. Throws ConfigError
  // with unsupported_reason, or DataError when a label exceeds the classes.
  FusedStep(Context& ctx, Network& net, Optimizer& optimizer, const DeviceDataset& data,
            const Config& config, const Tensor& loss_sum, const Tensor& correct,
            const Tensor& nonfinite);
  ~FusedStep();
  FusedStep(const FusedStep&) = delete;
  FusedStep& operator=(const FusedStep&) = delete;

  // Runs `steps` in order: each one's batch (from the data set's current
  // epoch order), forward, loss, backward and SGD update. On the GPU one
  // launch on the context's stream (asynchronous); on the CPU, now.
  void run(const std::vector<FusedStepArgs>& steps);

  // GPU: thread blocks per launch (0: as many as the largest phase has work
  // for, capped to what can be resident at once). CPU: threads the host loop
  // emulates (the result does not depend on it; tests check that).
  void set_parallelism(int64_t units) { parallelism_ = units; }
  // Measure the time of each phase (with the barrier after it) from now on:
  // on the GPU one thread reads the global timer after each barrier.
  void set_phase_timing(bool on);
  // Each phase's name ("forward conv1", "loss", "backward fc3", "update") and
  // total milliseconds so far (blocking copy); empty when not measured.
  std::vector<std::pair<std::string, double>> phase_times() const;
  // "fused step: 7 stages, 12 phases per step, 132 blocks (largest phase: 54520 items)".
  std::string describe() const;
  const FusedPlan& plan() const { return plan_; }

 private:
  Context& ctx_;
  FusedPlan plan_;         // host copy; pointers are on ctx's device
  int64_t max_items_ = 0;  // the most work items of any phase, at the full batch
  int64_t parallelism_ = 0;
  int64_t launched_blocks_ = 0;
  bool launched_once_ = false;            // GPU: the first launch is waited for (its faults named)
  Buffer scratch_;                        // activations, gradients, arg maxes, partial sums, losses
  Buffer plan_device_;                    // (1) FusedPlan, GPU only
  Buffer steps_device_;                   // (kMaxSteps) FusedStepArgs, GPU only
  Buffer phase_ns_;                       // (kMaxFusedPhases) U64 when timing phases
  std::vector<std::string> stage_names_;  // per stage: its layer's name

  void upload_plan();  // plan_ -> plan_device_ (GPU only)
};

// The arguments of the step on batch b (of batch_size) of data's current
// epoch, at `rates`, `ahead` counted steps after the optimizer's last.
FusedStepArgs fused_step_args(const DeviceDataset& data, int64_t b, int64_t batch_size,
                              const Optimizer& optimizer, const StepRates& rates, int64_t ahead);

// The host loop over `steps`, emulating `threads` threads per phase.
void run_fused_steps_host(const FusedPlan& plan, const FusedStepArgs* steps, int64_t count,
                          int64_t threads);

#ifdef CNNE_WITH_CUDA
namespace cuda {
// Copies `count` steps to `device_steps` and launches the cooperative kernel
// on ctx's stream with `blocks` blocks (0 = enough for `max_items`, capped to
// what is resident at once); returns the blocks launched. With `wait`, it
// also waits for the kernel, so a fault in it is reported as the fused
// step's (FusedStep does that for its first launch).
int64_t run_fused_steps(Context& ctx, const FusedPlan* device_plan, FusedStepArgs* device_steps,
                        const FusedStepArgs* host_steps, int64_t count, int64_t blocks,
                        int64_t max_items, bool wait);
}  // namespace cuda
#endif

}  // namespace cnne
