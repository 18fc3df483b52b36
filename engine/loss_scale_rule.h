#pragma once
// Dynamic loss scaling's rule after a step (PyTorch's GradScaler.update with
// growth factor 2, backoff 1/2), shared by the CPU and the GPU kernels: a
// non-finite gradient halves the scale, restarts the good-step count and
// counts a skipped step; growth_interval good steps in a row double it.
#include <cstdint>

#include "engine/host_device.h"
#include "engine/ops.h"

namespace cnne {

CNNE_HOST_DEVICE inline void advance_loss_scale(LossScaleState& s, int32_t growth_interval) {
  if (s.found_inf) {
    s.scale *= 0.5f;
    s.good_steps = 0;
    s.skipped += 1;
  } else if (++s.good_steps >= growth_interval) {
    if (s.scale < 1.0e38f) s.scale *= 2.0f;  // never to infinity (float's largest is 3.4e38)
    s.good_steps = 0;
  }
  s.found_inf = 0;
}

}  // namespace cnne
