#pragma once
// BatchStage: moves batch b of a BatchLoader into the network's input and a
// labels tensor on the context's device. On the CPU the loader writes straight
// into the input; on the GPU it fills host staging buffers that are copied up.
#include <cstdint>

#include "engine/batch_loader.h"
#include "engine/buffer.h"
#include "engine/context.h"
#include "engine/network.h"

namespace cnne {

class BatchStage {
 public:
  BatchStage(Context& ctx, Network& net);

  // Fills net.input(n) and labels(n) with batch b; returns n.
  int64_t load(const BatchLoader& loader, int64_t b, const Normalization& norm);
  Tensor labels(int64_t n) const;       // (n) I32 on the device
  Tensor host_labels(int64_t n) const;  // (n) I32 on the host, same values

 private:
  Context& ctx_;
  Network& net_;
  Buffer host_images_;  // (max_batch, C, H, W) F32, GPU only
  Buffer host_labels_;  // (max_batch) I32
  Buffer labels_;       // (max_batch) I32 on the device, GPU only
};

// Running sums on the device, read on the host only when printed.
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
