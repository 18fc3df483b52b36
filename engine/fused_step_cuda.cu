// The fused step on the GPU (Note [fused step] in engine/fused_step.h): one
// cooperative kernel runs every phase of every step, with a grid-wide
// barrier between phases. Built with -fmad=false, like batch norm, so its
// float sums round as the host's do.
#include <cooperative_groups.h>

#include <algorithm>
#include <string>

#include "cuda/check.h"
#include "cuda/cuda_context.h"
#include "engine/error.h"
#include "engine/fused_phases.h"
#include "engine/fused_step.h"

namespace cnne::cuda {
namespace {

constexpr int kFusedThreads = 256;

__device__ __forceinline__ uint64_t global_ns() {
  uint64_t t;
  asm volatile("mov.u64 %0, %%globaltimer;" : "=l"(t));
  return t;
}

__global__ void __launch_bounds__(kFusedThreads, 1)
    fused_steps_kernel(const FusedPlan* __restrict__ plan, const FusedStepArgs* __restrict__ steps,
                       int64_t count) {
  cooperative_groups::grid_group grid = cooperative_groups::this_grid();
  const int64_t tid = blockIdx.x * int64_t(blockDim.x) + threadIdx.x;
  const int64_t threads = int64_t(gridDim.x) * blockDim.x;
  fused_assemble(*plan, steps[0], tid, threads);
  grid.sync();
  const int32_t phases = plan->phase_count;
  uint64_t* phase_ns = tid == 0 ? plan->phase_ns : nullptr;  // one clock reader
  uint64_t before = phase_ns ? global_ns() : 0;
  for (int64_t s = 0; s < count; ++s) {
    const FusedStepArgs args = steps[s];
    const FusedStepArgs* next = s + 1 < count ? &steps[s + 1] : nullptr;
    for (int32_t ph = 0; ph < phases; ++ph) {
      fused_phase(*plan, plan->phases[ph], args, next, tid, threads);
      grid.sync();     // also orders this phase's writes before the next phase's reads
      if (phase_ns) {  // every block is past this phase: the time since the last barrier
        const uint64_t now = global_ns();
        phase_ns[ph] += now - before;
        before = now;
      }
    }
  }
}

}  // namespace

int64_t run_fused_steps(Context& ctx, const FusedPlan* device_plan, FusedStepArgs* device_steps,
                        const FusedStepArgs* host_steps, int64_t count, int64_t blocks,
                        int64_t max_items) {
  int device = 0, cooperative = 0, sms = 0, per_sm = 0;
  CNNE_CHECK(cudaGetDevice(&device));
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
  CNNE_CHECK_AT(
      cudaLaunchCooperativeKernel(reinterpret_cast<void*>(fused_steps_kernel), dim3(unsigned(grid)),
                                  dim3(kFusedThreads), args, 0, stream),
      std::to_string(count) + " fused steps on " + std::to_string(grid) + " blocks");
  return grid;
}

}  // namespace cnne::cuda
