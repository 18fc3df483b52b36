#pragma once
// The phases of one fused training step (Note [fused step] in
// engine/fused_step.h). Each phase is a list of independent work items (an
// output element, a gradient element, a partial sum) that threads
// 0 .. threads-1 share with a strided loop; nothing a phase writes is read in
// the same phase, so the result is the same for any thread count, and the host
// (one thread) computes what the GPU kernel computes. Between phases the
// caller waits for every thread (a grid-wide barrier on the GPU).
//
// Each item is one sequential float sum in a fixed order, so the results are
// deterministic; the CUDA file is built without FMA contraction, like the
// CPU build, so host and device round alike (the loss's exp and log aside).
#include <cstdint>

#include "engine/fused_backward.h"
#include "engine/fused_forward.h"
#include "engine/fused_math.h"
#include "engine/fused_plan.h"
#include "engine/host_device.h"

namespace cnne {

// The update: each parameter's gradient (a conv's summed from its partials in
// order, a linear's as its backward wrote it) into the gradient layout, a
// count of the non-finite ones, the optimizer; then the meters (one thread) and the next
// step's batch (its images are read by nothing of this step any more).
CNNE_HOST_DEVICE inline void fused_update(const FusedPlan& plan, const FusedStepArgs& a,
                                          const FusedStepArgs* next, int64_t tid, int64_t threads) {
  for (int32_t si = 0; si < plan.stage_count; ++si) {
    const FusedStage st = plan.stages[si];
    if (st.weight < 0) continue;
    const int64_t biases = st.bias >= 0 ? st.k : 0;
    const int64_t count = st.weight_count + biases;
    const int64_t per_split = st.weight_count + st.k;
    const int64_t splits = st.kind == kFusedConv ? fused_splits(st, a.n) : 0;
    for (int64_t t = tid; t < count; t += threads) {
      const int64_t at = t < st.weight_count ? st.weight + t : st.bias + (t - st.weight_count);
      float g;
      if (st.kind == kFusedConv) {
        g = 0.0f;
        for (int64_t part = 0; part < splits; ++part) g = g + st.partials[part * per_split + t];
        plan.grads[at] = g;
      } else {
        g = plan.grads[at];
      }
      if (!fused_is_finite(g)) fused_count(plan.nonfinite);
      if (plan.adam)
        adam_element(a.adam, plan.params[at], g, plan.momentum[at], plan.exp_avg_sq[at]);
      else
        sgd_element(a.sgd, plan.params[at], g, plan.momentum[at]);
    }
  }
  if (tid == 0) {
    double total = 0.0;
    int32_t hits = 0;
    for (int64_t i = 0; i < a.n; ++i) {
      total += plan.losses[i];
      hits += plan.hits[i];
    }
    if (a.n > 0) plan.loss_sum[0] += static_cast<float>(total / static_cast<double>(a.n));
    plan.correct[0] += hits;
  }
  if (next) fused_assemble(plan, *next, tid, threads);
}

CNNE_HOST_DEVICE inline void fused_phase(const FusedPlan& plan, const FusedPhase& phase,
                                         const FusedStepArgs& a, const FusedStepArgs* next,
                                         int64_t tid, int64_t threads) {
  const FusedStage st = plan.stages[phase.stage];  // a local copy: registers, not reloads
  switch (phase.kind) {
    case kPhaseForward:
      fused_forward(plan, st, a.n, tid, threads);
      break;
    case kPhaseLoss:
      fused_loss(plan, a.n, tid, threads);
      break;
    case kPhaseBackward:
      if (st.kind == kFusedLinear)
        fused_backward_linear(plan, st, a.n, tid, threads);
      else if (st.kind == kFusedConv)
        fused_backward_conv(plan, st, a.n, tid, threads);
      else if (st.needs_dx)
        fused_backward_pool(st, a.n, tid, threads);
      break;
    default:
      fused_update(plan, a, next, tid, threads);
      break;
  }
}

}  // namespace cnne
