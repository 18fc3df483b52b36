#pragma once
// IntervalClock: sums the time of numbered intervals over many repetitions,
// with the right clock for the device: the host's steady clock on the CPU,
// CUDA events on the GPU (cnnengine bench; see cuda/event_clock.h).
#include <cstddef>
#include <memory>
#include <vector>

#include "engine/context.h"

namespace cnne {

class IntervalClock {
 public:
  virtual ~IntervalClock() = default;
  virtual void start(size_t slot) = 0;
  virtual void stop(size_t slot) = 0;
  // Ends one repetition: adds each slot's time to its total (may wait for the device).
  virtual void end_round() = 0;
  // Total milliseconds per slot over all rounds.
  virtual std::vector<double> totals_ms() const = 0;
};

std::unique_ptr<IntervalClock> make_interval_clock(Context& ctx, size_t slots);

}  // namespace cnne
