#pragma once
// Optimizers over the flat parameter arena, PyTorch's semantics: SGD
// (torch.optim.SGD, plus decoupled weight decay), Adam and AdamW (AMSGrad
// too), RMSprop and Adagrad. Each state buffer (momentum, Adam's moments,
// RMSprop's averages, Adagrad's sum) has the parameters' layout, so one kernel
// updates everything. The schedule (engine/schedule.h) gives the rates of
// each step.
#include <memory>
#include <span>
#include <string>
#include <vector>

#include "engine/buffer.h"
#include "engine/context.h"
#include "engine/network.h"
#include "engine/optimizer_config.h"
#include "engine/safetensors.h"
#include "engine/schedule.h"
#include "engine/step_args.h"

namespace cnne {

class Optimizer {
 public:
  static std::unique_ptr<Optimizer> create(Context& ctx, const Network& net,
                                           const OptimizerConfig& config);
  // Throws ConfigError when a no_weight_decay pattern matches no parameter of net.
  static void check_patterns(const Network& net, const OptimizerConfig& config) {
    decay_segments(net, config.no_weight_decay, net.flat_parameters().numel());
  }
  virtual ~Optimizer() = default;
  Optimizer(const Optimizer&) = delete;
  Optimizer& operator=(const Optimizer&) = delete;

  // One update from the gradients the last backward() assigned, in three
  // parts so a CUDA graph can hold the middle one: write_step() puts this
  // step's arguments (rates, step number) in `scalars`; after they are
  // uploaded, apply() launches the update reading them from the device;
  // count_step() advances the host's step count. With `ahead`, the arguments
  // of the step that many counted steps later (the fused step writes a run
  // of steps at once).
  void write_step(StepScalars& scalars, const StepRates& rates, int64_t ahead = 0) const;
  void apply(Network& net, const StepArgs& args);
  // Note [skipped steps]: dynamic loss scaling's state (on the context's
  // device), where apply() finds whether to leave this step out and how many
  // steps were left out before; null = none. PyTorch's GradScaler leaves
  // optimizer.step() out on overflow, so Adam's bias corrections, SGD's
  // first momentum and Adagrad's decayed rate count only the steps taken; here the host counts
  // every step (the learning-rate schedule, like PyTorch's scheduler, follows them all) and the
  // kernels subtract the skipped ones, which only the device knows while a captured graph runs.
  void set_loss_scaling(const LossScaleState* scaling) { scaling_ = scaling; }
  void count_step() { ++steps_; }
  // All three, eagerly.
  void step(Network& net, const StepRates& rates, StepArgs& args);
  // Update only these [begin, end) float ranges of the layout (frozen layers
  // stay as they are); default: everything.
  void set_ranges(std::vector<std::pair<int64_t, int64_t>> ranges);
  int64_t steps() const { return steps_; }
  const OptimizerConfig& config() const { return config_; }
  // State buffer i (P), same layout as Network::flat_parameters().
  Tensor state(size_t i) const;
  size_t state_bytes() const;

  // The state as host tensors under PyTorch's per-parameter names
  // ("<param>.momentum_buffer", "<param>.exp_avg", ...), the type and step
  // count in the metadata. Empty before the first step.
  Safetensors export_state(const Network& net) const;
  // Restores export_state's output; CheckpointError naming `path` on any mismatch.
  void import_state(const Safetensors& file, const std::string& path, const Network& net);

 protected:
  // A [begin, end) range of the layout to update, and whether weight decay applies.
  struct Segment {
    int64_t begin, end;
    bool decayed;
  };

  // The most state buffers an optimizer keeps (AMSGrad's and centered
  // RMSprop's three); apply() slices them into a fixed array.
  static constexpr size_t kMaxStateBuffers = 3;

  Optimizer(Context& ctx, const Network& net, const OptimizerConfig& config,
            std::vector<std::string> state_names);
  // CheckpointError naming `path` unless `file` holds exactly this
  // optimizer's kinds of state (import_state).
  void require_same_state(const Safetensors& file, const std::string& path,
                          const Network& net) const;

  // The arguments of the step after `steps_before` counted ones.
  virtual void write_scalars(StepScalars& scalars, const StepRates& rates,
                             int64_t steps_before) const = 0;
  // The update over one range: params, grads and state views of equal size;
  // `decayed` false for a range of no_weight_decay parameters.
  virtual void update(const Tensor& params, const Tensor& grads, std::span<const Tensor> state,
                      const StepArgs& args, bool decayed) = 0;

  static std::vector<Segment> decay_segments(const Network& net,
                                             const std::vector<std::string>& patterns,
                                             int64_t layout_floats);

  Context& ctx_;
  OptimizerConfig config_;
  const LossScaleState* scaling_ = nullptr;  // on ctx_'s device: Note [skipped steps]
  // The layout in segments of one decay setting (no_weight_decay); empty: all decayed.
  std::vector<Segment> decay_segments_;
  // What apply() updates: ranges_ (or the whole layout) cut by decay_segments_;
  // empty: the whole layout in one launch.
  std::vector<Segment> segments_;
  std::vector<std::pair<int64_t, int64_t>> ranges_;
  int64_t layout_floats_ = 0;
  std::vector<std::string> state_names_;
  std::vector<Buffer> state_;  // each (P) F32
  int64_t steps_ = 0;
};

class SgdOptimizer : public Optimizer {
 public:
  SgdOptimizer(Context& ctx, const Network& net, const OptimizerConfig& config);

 private:
  void write_scalars(StepScalars& scalars, const StepRates& rates,
                     int64_t steps_before) const override;
  void update(const Tensor& params, const Tensor& grads, std::span<const Tensor> state,
              const StepArgs& args, bool decayed) override;
};

class AdamOptimizer : public Optimizer {
 public:
  AdamOptimizer(Context& ctx, const Network& net, const OptimizerConfig& config);

 private:
  void write_scalars(StepScalars& scalars, const StepRates& rates,
                     int64_t steps_before) const override;
  void update(const Tensor& params, const Tensor& grads, std::span<const Tensor> state,
              const StepArgs& args, bool decayed) override;
};

// State square_avg, then momentum_buffer (momentum > 0), then grad_avg
// (centered): PyTorch's, which makes the optional ones only when used.
class RmspropOptimizer : public Optimizer {
 public:
  RmspropOptimizer(Context& ctx, const Network& net, const OptimizerConfig& config);

 private:
  static std::vector<std::string> state_names(const OptimizerConfig& config);
  void write_scalars(StepScalars& scalars, const StepRates& rates,
                     int64_t steps_before) const override;
  void update(const Tensor& params, const Tensor& grads, std::span<const Tensor> state,
              const StepArgs& args, bool decayed) override;
};

// State sum, starting at initial_accumulator_value.
class AdagradOptimizer : public Optimizer {
 public:
  AdagradOptimizer(Context& ctx, const Network& net, const OptimizerConfig& config);

 private:
  void write_scalars(StepScalars& scalars, const StepRates& rates,
                     int64_t steps_before) const override;
  void update(const Tensor& params, const Tensor& grads, std::span<const Tensor> state,
              const StepArgs& args, bool decayed) override;
};

}  // namespace cnne
