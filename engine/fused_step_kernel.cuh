#pragma once
// The fused step's cooperative kernel (Note [fused step] in
// engine/fused_step.h), launched by engine/fused_step_cuda.cu and run on CPU
// threads, every block at once, by the emulated-kernel tests (Note [kernel
// emulation] in cuda/emulator.h); the unnamed namespace gives each file that
// includes this its own copy.
#include <chrono>
#include <cstdint>

#include "cuda/device_api.cuh"
#include "engine/fused_phases.h"

namespace cnne::cuda {
namespace {

constexpr int kFusedThreads = 256;

__device__ __forceinline__ uint64_t global_ns() {
#ifdef CNNE_EMULATED_KERNELS
  return static_cast<uint64_t>(std::chrono::duration_cast<std::chrono::nanoseconds>(
                                   std::chrono::steady_clock::now().time_since_epoch())
                                   .count());
#else
  uint64_t t;
  asm volatile("mov.u64 %0, %%globaltimer;" : "=l"(t));
  return t;
#endif
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
}  // namespace cnne::cuda
