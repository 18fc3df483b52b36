#pragma once
// LossMeter: running sums of the loss and of the correctly classified images,
// kept on the device and read on the host only when printed.
#include <cstdint>

#include "engine/buffer.h"
#include "engine/context.h"

namespace cnne {

class LossMeter {
 public:
  explicit LossMeter(Context& ctx);
  void reset();
  // Puts given values in (a resumed run's running sums).
  void set(double loss_sum, int64_t correct);
  Tensor loss_sum() const;  // (1) F32: sum of batch-mean losses
  Tensor correct() const;   // (1) I32: correctly classified images
  struct Reading {
    double loss_sum;
    int64_t correct;
  };
  Reading read() const;  // blocking copy to the host

 private:
  Context& ctx_;
  Buffer sums_;  // [loss_sum F32, correct I32]
};

}  // namespace cnne
