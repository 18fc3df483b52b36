#pragma once
// An IntervalClock made of CUDA event pairs on the context's stream: each
// round records start/stop events per slot and, at its end, waits for the
// last one and adds every pair's elapsed time.
#include <memory>

#include "engine/interval_clock.h"

namespace cnne::cuda {

std::unique_ptr<IntervalClock> make_event_clock(Context& ctx, size_t slots);

}  // namespace cnne::cuda
