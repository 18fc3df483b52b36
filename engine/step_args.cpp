#include "engine/step_args.h"

#include <cstring>

#ifdef CNNE_WITH_CUDA
#include "cuda/check.h"
#include "cuda/cuda_context.h"
#include "cuda/handles.h"
#endif

namespace cnne {

#ifdef CNNE_WITH_CUDA
struct StepArgs::Ring {
  static constexpr int kSlots = 4;
  cuda::PinnedBuffer slots[kSlots];
  cuda::SyncEvent done[kSlots];  // ordering only, no timing
  bool used[kSlots] = {};
  int next = 0;
};
#else
struct StepArgs::Ring {};
#endif

StepArgs::StepArgs(Context& ctx) : ctx_(ctx), device_(ctx.device(), sizeof(StepScalars)) {
  if (ctx.device() == Device::CPU) {
    std::memcpy(device_.data(), &next_, sizeof next_);
    return;
  }
#ifdef CNNE_WITH_CUDA
  ring_ = std::make_unique<Ring>();
  for (auto& slot : ring_->slots) slot = cuda::PinnedBuffer(sizeof(StepScalars));
  upload();
#endif
}

StepArgs::~StepArgs() = default;

void StepArgs::upload() {
  if (ctx_.device() == Device::CPU) {
    std::memcpy(device_.data(), &next_, sizeof next_);
    return;
  }
#ifdef CNNE_WITH_CUDA
  Ring& r = *ring_;
  const int slot = r.next;
  r.next = (r.next + 1) % Ring::kSlots;
  if (r.used[slot]) CNNE_CHECK(cudaEventSynchronize(r.done[slot]));  // its last copy is done
  std::memcpy(r.slots[slot].data(), &next_, sizeof next_);
  const cudaStream_t stream = ctx_.cuda().stream();
  CNNE_CHECK(cudaMemcpyAsync(device_.data(), r.slots[slot].data(), sizeof next_,
                             cudaMemcpyHostToDevice, stream));
  CNNE_CHECK(cudaEventRecord(r.done[slot], stream));
  r.used[slot] = true;
#endif
}

}  // namespace cnne
