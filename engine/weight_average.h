#pragma once
// WeightAverage: training.ema_decay, an exponential moving average of the
// weights kept beside them, PyTorch's
//   ema = torch.optim.swa_utils.AveragedModel(model, avg_fn=lambda avg, w, n:
//                                             decay * avg + (1 - decay) * w,
//                                             use_buffers=ema_buffers)
//   ... optimizer.step(); ema.update_parameters(model)
// The first update copies the weights (AveragedModel at n_averaged == 0);
// every later one is one axpby over the trainable ranges (frozen layers keep
// their copy, exactly), with a fixed decay, so a captured CUDA graph holds it.
// With ema_buffers (use_buffers=True) the BatchNorm running statistics are
// averaged too; without, the averaged model uses the network's own.
//
// Note [averaged weights in checkpoints]: with an average, evaluations during
// training, the best checkpoint, the final test accuracy and every checkpoint's
// tensors are the averaged model (what `eval`, `predict` and PyTorch's
// load_state_dict then see). The training weights, needed only to resume, go
// to the optimizer-state file as "training_weights.<name>" (parameters, and the
// buffers when they are averaged), with the metadata ema_decay, ema_updates
// and ema_buffers. To evaluate or save, the network's weights and the average
// swap places (with_average) and swap back after.
#include <cstdint>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "engine/buffer.h"
#include "engine/context.h"
#include "engine/function_ref.h"
#include "engine/network.h"
#include "engine/safetensors.h"

namespace cnne {

class WeightAverage {
 public:
  // An exponential moving average, decay in (0, 1). net must be set up.
  WeightAverage(Context& ctx, const Network& net, double decay, bool buffers);
  // training.swa's equal average (Note [stochastic weight averaging] in
  // engine/swa_config.h): update n + 1 is avg + (w - avg) / (n + 1),
  // AveragedModel's default; the average has BatchNorm statistics of its own
  // (copied at the first update, then only what the caller recomputes in
  // them while exchanged), and its updates run eagerly (the decay changes).
  static std::unique_ptr<WeightAverage> equal(Context& ctx, const Network& net);
  bool is_equal() const { return equal_; }

  // Average only these [begin, end) float ranges of the parameter layout
  // (training.freeze: the others keep their first copy); default: everything.
  void set_ranges(std::vector<std::pair<int64_t, int64_t>> ranges) { ranges_ = std::move(ranges); }
  // This step's update, launched after the optimizer's; count_update() then
  // advances the host's count. After the first (a copy), the launches depend
  // on nothing the host changes: a CUDA graph may capture them.
  void apply(const Network& net);
  void count_update() { ++updates_; }
  int64_t updates() const { return updates_; }
  double decay() const { return decay_; }
  bool averages_buffers() const { return buffers_; }

  // Swaps the network's weights (and, with ema_buffers, its running
  // statistics) with the average's; network_holds_average() says which the
  // network has now.
  void exchange(const Network& net);
  bool network_holds_average() const { return holds_average_; }

  // Adds the training weights (wherever they are now) to `file`, an
  // optimizer-state file, with the metadata of the Note.
  void export_training_weights(const Network& net, Safetensors& file) const;
  // The network's weights (and buffers) as they are now become the average,
  // `updates` updates old (restore_training_weights, at resume).
  void adopt(const Network& net, int64_t updates);

  // "Exponential moving average of the weights, decay 0.999, ...": for the run's start.
  std::string describe() const;

 private:
  Tensor params() const;   // (parameter layout) F32: the average, or while exchanged the weights
  Tensor stats() const;    // (buffer layout) F32: the same for the buffers (ema_buffers only)
  Tensor scratch() const;  // (the larger layout) F32: for exchange()

  Context& ctx_;
  double decay_;  // the exponential average's; unused by the equal one
  bool equal_ = false;
  bool buffers_;      // the average holds BatchNorm statistics (averaged only when exponential)
  bool has_buffers_;  // the network has running statistics
  std::vector<std::pair<int64_t, int64_t>> ranges_;
  Buffer params_, stats_, scratch_;
  int64_t updates_ = 0;
  bool holds_average_ = false;
};

// Runs fn with the average in the network (exchanging and exchanging back
// when it is not there already), or simply runs it when average is null.
void with_average(WeightAverage* average, const Network& net, FunctionRef<void()> fn);

// At resume, once the checkpoint's tensors are in the network: when the
// optimizer-state `file` holds training weights (the run averaged), they go
// into the network, and the checkpoint's tensors (the average) into `average`
// with its update count; with no average now, they are dropped. When `file`
// holds none, a new average starts (its first update copies). Returns the
// rest of `file`, for Optimizer::import_state. CheckpointError naming `path`
// on a missing or mis-shaped tensor.
Safetensors restore_training_weights(const Safetensors& file, const std::string& path, Network& net,
                                     WeightAverage* average);

}  // namespace cnne
