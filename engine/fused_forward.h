#pragma once
// The fused step's forward phases (Note [fused step] in engine/fused_step.h):
// the batch, each stage's output (a conv with the tiling max-pool after it,
// when pooling is fused), the softmax cross-entropy. Work items are output
// elements (engine/fused_phases.h says how phases share them).
#include <cmath>
#include <cstdint>

#include "engine/batch_assembly.h"
#include "engine/fused_math.h"
#include "engine/fused_plan.h"
#include "engine/host_device.h"
#include "layers/relu_math.h"

namespace cnne {

// The batch of `a` into plan.input and plan.batch_labels (ops::assemble_batch).
CNNE_HOST_DEVICE inline void fused_assemble(const FusedPlan& plan, const FusedStepArgs& a,
                                            int64_t tid, int64_t threads) {
  const BatchSource& s = plan.data;
  const int64_t total = a.n * s.channels * s.height * s.width;
  for (int64_t t = tid; t < total; t += threads) {
    const BatchElement e = batch_element(s, a.batch, static_cast<int>(t));
    plan.input[t] = e.value;
    if (e.first) plan.batch_labels[e.image] = s.labels[e.index];
  }
}

// Output (i, kk, oy, ox) of conv stage st, with its bias and ReLU.
CNNE_HOST_DEVICE inline float conv_output(const FusedPlan& plan, const FusedStage& st, int i,
                                          int kk, int oy, int ox) {
  const float* wt = plan.params + st.weight;
  // Two running sums, over even and odd kernel rows (more in flight on the GPU).
  float even = 0.0f, odd = 0.0f;
  auto kernel_row = [&](int ch, int r, float& acc) {
    const int iy = oy * st.sh - st.ph + r;
    if (iy < 0 || iy >= st.h) return;
    const float* in = st.x + ((int64_t(i) * st.c + ch) * st.h + iy) * st.w;
    const float* filter = wt + ((int64_t(kk) * st.c + ch) * st.kh + r) * st.kw;
    for (int s = 0; s < st.kw; ++s) {
      const int ix = ox * st.sw - st.pw + s;
      if (ix >= 0 && ix < st.w) acc = acc + in[ix] * filter[s];
    }
  };
  for (int ch = 0; ch < st.c; ++ch)
    for (int r = 0; r < st.kh; r += 2) {
      kernel_row(ch, r, even);
      if (r + 1 < st.kh) kernel_row(ch, r + 1, odd);
    }
  const float v = (st.bias >= 0 ? plan.params[st.bias + kk] : 0.0f) + (even + odd);
  return st.relu ? relu_value(v) : v;
}

// Max-pool window (oy, ox) of plane `plane` of pool stage st: its value (with
// the stage's ReLU) and arg max; padding never wins, the first maximum in
// window order does, NaN propagates. `input(iy, ix)` gives the input value
// (the producer's output, read or computed).
template <class Input>
CNNE_HOST_DEVICE inline float pool_window(const FusedStage& st, int oy, int ox, Input input,
                                          int32_t* argmax) {
  int32_t best = -1;
  float best_value = -INFINITY;
  for (int r = 0; r < st.kh; ++r) {
    const int iy = oy * st.sh - st.ph + r;
    if (iy < 0 || iy >= st.h) continue;
    for (int s = 0; s < st.kw; ++s) {
      const int ix = ox * st.sw - st.pw + s;
      if (ix < 0 || ix >= st.w) continue;
      const float value = input(iy, ix);
      if (best < 0 || value > best_value || value != value) {
        best = iy * st.w + ix;
        best_value = value;
      }
    }
  }
  *argmax = best;
  return st.relu ? relu_value(best_value) : best_value;
}

CNNE_HOST_DEVICE inline void fused_forward(const FusedPlan& plan, const FusedStage& st, int64_t n,
                                           int64_t tid, int64_t threads) {
  if (st.pool_after >= 0) {
    // Note [fused step], pooling fused: the conv outputs of each window of the
    // tiling max-pool that follows, then the window's maximum.
    const FusedStage& pool = plan.stages[st.pool_after];
    const int64_t total = n * pool.k * pool.p * pool.q;
    for (int64_t t = tid; t < total; t += threads) {
      const int ti = static_cast<int>(t);
      const int px = ti % pool.q, py = (ti / pool.q) % pool.p,
                plane = ti / (pool.q * pool.p);  // i * K + kk
      const int kk = plane % st.k, i = plane / st.k;
      float* y = st.y + int64_t(plane) * st.p * st.q;
      pool.y[t] = pool_window(
          pool, py, px,
          [&](int oy, int ox) {
            const float v = conv_output(plan, st, i, kk, oy, ox);
            y[oy * st.q + ox] = v;  // each conv output lies in one window: written once
            return v;
          },
          &pool.argmax[t]);
    }
    return;
  }
  const int64_t total = n * st.k * st.p * st.q;
  for (int64_t t = tid; t < total; t += threads) {
    const int ti = static_cast<int>(t);  // fewer than 2^31 items (FusedStep checks)
    const int ox = ti % st.q, oy = (ti / st.q) % st.p, kk = (ti / (st.q * st.p)) % st.k,
              i = ti / (st.q * st.p * st.k);
    if (st.kind == kFusedLinear) {
      const float* x = st.x + int64_t(i) * st.c;
      const float* row = plan.params + st.weight + int64_t(kk) * st.c;
      const float v =
          (st.bias >= 0 ? plan.params[st.bias + kk] : 0.0f) + fused_dot(x, 1, row, 1, st.c);
      st.y[t] = st.relu ? relu_value(v) : v;
    } else if (st.kind == kFusedConv) {
      st.y[t] = conv_output(plan, st, i, kk, oy, ox);
    } else {
      const float* in = st.x + (int64_t(i) * st.c + kk) * st.h * st.w;
      st.y[t] = pool_window(
          st, oy, ox, [&](int iy, int ix) { return in[iy * st.w + ix]; }, &st.argmax[t]);
    }
  }
}

// Softmax cross-entropy of the last stage's logits, as the CPU reference
// computes it (in double per row): each image's loss and hit, and
// d(loss)/d(logits) / n into the last stage's dy.
CNNE_HOST_DEVICE inline void fused_loss(const FusedPlan& plan, int64_t n, int64_t tid,
                                        int64_t threads) {
  const FusedStage& last = plan.stages[plan.stage_count - 1];
  const int64_t k = plan.classes;
  const double eps = plan.smoothing, off = eps / static_cast<double>(k), on = 1.0 - eps + off;
  for (int64_t i = tid; i < n; i += threads) {
    const float* row = last.y + i * k;  // (K)
    const int32_t label = plan.batch_labels[i];
    int64_t best = 0;
    for (int64_t j = 1; j < k; ++j)
      if (row[j] > row[best]) best = j;
    plan.hits[i] = best == label ? 1 : 0;
    const double mx = row[best];
    double sum = 0.0;
    for (int64_t j = 0; j < k; ++j) sum += ::exp(static_cast<double>(row[j]) - mx);
    const double log_sum = ::log(sum);
    const double nll = -(static_cast<double>(row[label]) - mx - log_sum);
    double loss = nll;
    if (eps != 0.0) {
      double sum_neg_logp = 0.0;
      for (int64_t j = 0; j < k; ++j) sum_neg_logp -= static_cast<double>(row[j]) - mx - log_sum;
      loss = (1.0 - eps) * nll + eps * sum_neg_logp / static_cast<double>(k);
    }
    plan.losses[i] = loss;
    float* g = last.dy + i * k;
    for (int64_t j = 0; j < k; ++j) {
      const double prob = ::exp(static_cast<double>(row[j]) - mx - log_sum);
      const double target = j == label ? on : off;
      g[j] = static_cast<float>((prob - target) / static_cast<double>(n));
    }
  }
}

}  // namespace cnne
