#pragma once
// The plain data the fused small-batch step works from (Note [fused step] in
// engine/fused_step.h): a chain of stages with their shapes and the pointers
// into the network's parameter, gradient and optimizer arenas and the step's
// own scratch, and the arguments of each step. Everything is pointers and
// integers, so the same struct drives the host loop and the GPU kernel.
#include <cstdint>

#include "engine/batch_assembly.h"
#include "engine/ops.h"

namespace cnne {

constexpr int kMaxFusedStages = 16;
constexpr int kMaxFusedPhases = 2 * kMaxFusedStages + 2;

enum FusedStageKind : int32_t { kFusedConv = 0, kFusedLinear = 1, kFusedMaxPool = 2 };

// One conv2d, linear or max-pool layer of the chain, with the ReLU that
// follows it folded in (a flatten is no stage: it only renames the memory).
struct FusedStage {
  int32_t kind = kFusedConv;
  int32_t relu = 0;             // the forward ends with ReLU
  int32_t mask_dx = 0;          // dx is multiplied by (x > 0): the previous stage ends with ReLU
  int32_t needs_dx = 0;         // 0 for the first stage (nothing upstream learns)
  int32_t c = 0, h = 1, w = 1;  // input per image (linear: c = in_features)
  int32_t k = 0, p = 1, q = 1;  // output per image (linear: k = out_features; pool: k = c)
  int32_t kh = 1, kw = 1, sh = 1, sw = 1, ph = 0, pw = 0;  // the window (conv, pool)
  int32_t rows_per_split = 1;  // conv: one dW partial sums this many (image, output row) pairs
  // Pooling fused (Note [fused step]): a conv followed by a tiling max-pool
  // computes the pool's forward too (pool_after: the pool's stage), and the
  // stage after that pool takes the pool's backward into its dx
  // (pool_before: the pool's stage); -1: none.
  int32_t pool_after = -1;
  int32_t pool_before = -1;
  int64_t weight = -1;        // offset in floats into the parameter layout; -1: none (pool)
  int64_t bias = -1;          // offset of the bias; -1: none
  int64_t weight_count = 0;   // conv K*C*R*S, linear O*I
  const float* x = nullptr;   // (N, c, h, w): the previous stage's y, or the batch
  float* y = nullptr;         // (N, k, p, q)
  float* dx = nullptr;        // (N, c, h, w): the previous stage's dy; null when !needs_dx
  float* dy = nullptr;        // (N, k, p, q): d(loss)/d(this stage's output before its ReLU)
  int32_t* argmax = nullptr;  // max-pool: (N, k, p, q) index into the (h, w) plane, -1 none
  float* partials = nullptr;  // conv: (splits, weight_count + K) dW and db by row groups
};

enum FusedPhaseKind : int32_t {
  kPhaseForward = 0,
  kPhaseLoss = 1,
  kPhaseBackward = 2,
  kPhaseUpdate = 3
};

struct FusedPhase {
  int32_t kind = kPhaseForward;
  int32_t stage = 0;
};

struct FusedPlan {
  FusedStage stages[kMaxFusedStages];
  int32_t stage_count = 0;
  FusedPhase phases[kMaxFusedPhases];  // one step: forwards, loss, backwards, update
  int32_t phase_count = 0;
  int32_t classes = 0;  // the last stage's k
  float smoothing = 0;  // label smoothing
  BatchSource data;
  float* input = nullptr;           // (N, C, H, W): the batch, stage 0's x
  int32_t* batch_labels = nullptr;  // (N)
  double* losses = nullptr;         // (N): each image's loss
  int32_t* hits = nullptr;          // (N): 1 where the arg max is the label
  float* params = nullptr;          // (P): the network's parameter layout
  float* grads = nullptr;           // (P): its gradients (written as the layer path does)
  float* momentum = nullptr;        // (P): SGD's momentum buffer, or Adam's exp_avg
  float* exp_avg_sq = nullptr;      // (P): Adam's second moment; null under SGD
  int32_t adam = 0;                 // 1: Adam/AdamW (FusedStepArgs::adam), 0: SGD
  float* loss_sum = nullptr;        // (1): the running meter (sum of batch-mean losses)
  int32_t* correct = nullptr;       // (1): the epoch meter (correct images)
  int32_t* nonfinite = nullptr;     // (1): NaN/Inf gradient elements so far
  // When set: nanoseconds spent in each phase (and the barrier after it),
  // summed over steps; (phase_count) U64. Null: not measured.
  uint64_t* phase_ns = nullptr;
};

// What changes from one step to the next.
struct FusedStepArgs {
  BatchArgs batch;  // where the batch starts in the epoch's order, its augmentation key
  int64_t n = 0;    // images in the batch
  SgdHyper sgd;     // this step's rates and first-step flag (SGD)
  AdamHyper adam;   // this step's rates and bias corrections (Adam, AdamW)
};

}  // namespace cnne
