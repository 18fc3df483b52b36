// The fused step on the GPU (Note [fused step] in engine/fused_step.h): one
// cooperative kernel runs every phase of every step, with a grid-wide
// barrier between phases. Built with -fmad=false, like batch norm, so its
// float sums round as the host's do.
#include <algorithm>
#include <string>

#include "cuda/check.h"
#include "cuda/cuda_context.h"
#include "engine/error.h"
#include "engine/fused_step.h"
#include "engine/fused_step_kernel.cuh"

namespace cnne::cuda {

int64_t run_fused_steps(Context& ctx, const FusedPlan* device_plan, FusedStepArgs* device_steps,
                        const FusedStepArgs* host_steps, int64_t count, int64_t blocks,
                        int64_t max_items, bool wait) {
  const int device = ctx.cuda().device();  // the context's, whatever is current
  int cooperative = 0, sms = 0, per_sm = 0;
  CNNE_CHECK(cudaDeviceGetAttribute(&cooperative, cudaDevAttrCooperativeLaunch, device));
  if (!cooperative)
    throw DeviceError("training.fused_step: this GPU cannot launch cooperative kernels");
  CNNE_CHECK(cudaDeviceGetAttribute(&sms, cudaDevAttrMultiProcessorCount, device));
  CNNE_CHECK(
      cudaOccupancyMaxActiveBlocksPerMultiprocessor(&per_sm, fused_steps_kernel, kFusedThreads, 0));
  const int64_t resident = int64_t(per_sm) * sms;
  if (resident < 1)
    throw DeviceError("training.fused_step: no block of the fused kernel fits on an SM");
  int64_t grid = blocks > 0 ? blocks : (max_items + kFusedThreads - 1) / kFusedThreads;
  grid = std::clamp<int64_t>(grid, 1, resident);

  cudaStream_t stream = ctx.cuda().stream();
  // Stream-ordered: the previous launch has read its steps before these land.
  // host_steps is pageable memory, staged before this call returns, so the
  // caller may reuse it at once (pinned memory would need an event first).
  CNNE_CHECK(cudaMemcpyAsync(device_steps, host_steps, sizeof(FusedStepArgs) * size_t(count),
                             cudaMemcpyHostToDevice, stream));
  void* args[] = {&device_plan, &device_steps, &count};
  const std::string what = std::to_string(count) + " fused steps on " + std::to_string(grid) +
                           " blocks of " + std::to_string(kFusedThreads) + " threads";
  CNNE_CHECK_AT(
      cudaLaunchCooperativeKernel(reinterpret_cast<void*>(fused_steps_kernel), dim3(unsigned(grid)),
                                  dim3(kFusedThreads), args, 0, stream),
      what);
  // (Otherwise a fault inside the kernel surfaces at a later copy, named after that.)
  if (wait) CNNE_CHECK_AT(cudaStreamSynchronize(stream), "the fused step's kernel, " + what);
  return grid;
}

}  // namespace cnne::cuda
