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
#include <cfloat>
#include <cmath>
#include <cstdint>

#include "engine/batch_assembly.h"
#include "engine/fused_plan.h"
#include "engine/host_device.h"
#include "layers/pool_windows.h"
#include "layers/relu_math.h"

namespace cnne {

CNNE_HOST_DEVICE inline bool fused_is_finite(float v) {
  return v == v && v <= FLT_MAX && v >= -FLT_MAX;
}

CNNE_HOST_DEVICE inline void fused_count(int32_t* count) {
#ifdef __CUDA_ARCH__
  atomicAdd(count, 1);
#else
  ++*count;
#endif
}

// sum_j a[j] b[j] in four running sums (more products in flight on the GPU),
// added pairwise at the end.
// With strides: sum_j a[j * as] b[j * bs].
CNNE_HOST_DEVICE inline float fused_dot(const float* a, int64_t as, const float* b, int64_t bs,
                                        int n) {
  float s0 = 0.0f, s1 = 0.0f, s2 = 0.0f, s3 = 0.0f;
  int j = 0;
  for (; j + 4 <= n; j += 4) {
    s0 = s0 + a[j * as] * b[j * bs];
    s1 = s1 + a[(j + 1) * as] * b[(j + 1) * bs];
    s2 = s2 + a[(j + 2) * as] * b[(j + 2) * bs];
    s3 = s3 + a[(j + 3) * as] * b[(j + 3) * bs];
  }
  for (; j < n; ++j) s0 = s0 + a[j * as] * b[j * bs];
  return (s0 + s1) + (s2 + s3);
}

// Row groups of a conv stage's dW partial sums for a batch of n.
CNNE_HOST_DEVICE inline int64_t fused_splits(const FusedStage& st, int64_t n) {
  return (n * st.p + st.rows_per_split - 1) / st.rows_per_split;
}

// torch.optim.SGD on one element, in the order of engine/sgd_cpu.cpp.
CNNE_HOST_DEVICE inline void sgd_element(const SgdHyper& h, float& p, float g, float& buf) {
  if (h.decay_factor != 1.0f) p = p * h.decay_factor;
  float d = g;
  if (h.weight_decay != 0.0f) d = d + h.weight_decay * p;
  if (h.momentum != 0.0f) {
    const float b = h.first_step ? d : h.momentum * buf + (1.0f - h.dampening) * d;
    buf = b;
    d = h.nesterov ? d + h.momentum * b : b;
  }
  p = p - h.lr * d;
}

// torch.optim.Adam / AdamW on one element, in the order of engine/adam_cpu.cpp.
CNNE_HOST_DEVICE inline void adam_element(const AdamHyper& h, float& p, float g, float& m,
                                          float& v) {
  const float param = p * h.decay_factor;
  const float grad = g + h.weight_decay * param;
  m = m * h.beta1 + grad * h.one_minus_beta1;
  v = v * h.beta2 + (h.one_minus_beta2 * grad) * grad;
  const float denom = sqrtf(v) / h.bias_correction2_sqrt + h.eps;
  p = param + (-h.step_size * m) / denom;
}

// The batch of `a` into plan.input and plan.batch_labels (ops::assemble_batch).
CNNE_HOST_DEVICE inline void fused_assemble(const FusedPlan& plan, const FusedStepArgs& a,
                                            int64_t tid, int64_t threads) {
  const BatchSource& s = plan.data;
  const int64_t c = s.channels, h = s.height, w = s.width;
  const int64_t total = a.n * c * h * w;
  for (int64_t t = tid; t < total; t += threads) {
    const int ti = static_cast<int>(t);
    const int xx = ti % s.width, y = (ti / s.width) % s.height,
              ch = (ti / (s.width * s.height)) % s.channels,
              i = ti / (s.width * s.height * s.channels);
    const int64_t index = s.order[a.batch.first + i];
    const ImageDraw d = draw_for(s.aug, a.batch.key, a.batch.first + i);
    const int64_t src = source_pixel(d, y, xx, h, w);
    const uint8_t value = src < 0 ? 0 : s.pixels[(index * c + ch) * h * w + src];
    plan.input[t] = s.lut[ch * 256 + value];
    if (ch == 0 && y == 0 && xx == 0) plan.batch_labels[i] = s.labels[index];
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

// dx of a stage whose previous stage ends with ReLU: zero where its output is not positive.
CNNE_HOST_DEVICE inline float fused_masked(const FusedStage& st, int64_t at, float v) {
  return st.mask_dx && !(st.x[at] > 0.0f) ? 0.0f : v;
}

// d(loss)/d(x) at element t of linear stage st's input (N, I), before any ReLU mask.
CNNE_HOST_DEVICE inline float linear_dx(const FusedPlan& plan, const FusedStage& st, int64_t t) {
  const int in = st.c, out = st.k;
  const int64_t i = static_cast<int>(t) / in, j = static_cast<int>(t) % in;
  return fused_dot(st.dy + i * out, 1, plan.params + st.weight + j, in, out);
}

// d(loss)/d(x) at element t of conv stage st's input (N, C, H, W): every
// output position whose window reads it, before any ReLU mask.
CNNE_HOST_DEVICE inline float conv_dx(const FusedPlan& plan, const FusedStage& st, int64_t t) {
  const float* wt = plan.params + st.weight;
  const int ti = static_cast<int>(t);
  const int ix = ti % st.w, iy = (ti / st.w) % st.h, ch = (ti / (st.w * st.h)) % st.c,
            i = ti / (st.w * st.h * st.c);
  // The kernel rows r that reach iy are r0, r0 + sh, ..., and output row
  // oy = (iy + ph - r) / sh falls by one at each (no division in the loop).
  const int r0 = (iy + st.ph) % st.sh, s0 = (ix + st.pw) % st.sw;
  const int oy0 = (iy + st.ph - r0) / st.sh, ox0 = (ix + st.pw - s0) / st.sw;
  // Four running sums, over the output channels in turn.
  float sum0 = 0.0f, sum1 = 0.0f, sum2 = 0.0f, sum3 = 0.0f;
  auto channel = [&](int kk, float& acc) {
    const float* dplane = st.dy + (int64_t(i) * st.k + kk) * st.p * st.q;
    const float* filter = wt + (int64_t(kk) * st.c + ch) * st.kh * st.kw;
    for (int r = r0, oy = oy0; r < st.kh && oy >= 0; r += st.sh, --oy) {
      if (oy >= st.p) continue;
      for (int s = s0, ox = ox0; s < st.kw && ox >= 0; s += st.sw, --ox)
        if (ox < st.q) acc = acc + dplane[oy * st.q + ox] * filter[r * st.kw + s];
    }
  };
  int kk = 0;
  for (; kk + 4 <= st.k; kk += 4) {
    channel(kk, sum0);
    channel(kk + 1, sum1);
    channel(kk + 2, sum2);
    channel(kk + 3, sum3);
  }
  for (; kk < st.k; ++kk) channel(kk, sum0);
  return (sum0 + sum1) + (sum2 + sum3);
}

// The dx items of stage st's backward: its input's elements, or, through a
// tiling max-pool fused into it (Note [fused step], pooling fused), the
// elements of the conv output before that pool.
CNNE_HOST_DEVICE inline int64_t fused_dx_items(const FusedPlan& plan, const FusedStage& st,
                                               int64_t n) {
  if (!st.needs_dx) return 0;
  if (st.pool_before < 0) return n * st.c * st.h * st.w;
  const FusedStage& pool = plan.stages[st.pool_before];
  return n * pool.c * pool.h * pool.w;
}

// Writes dx item t of stage st: d(loss)/d(x), masked by the ReLU of x's
// producer; through a fused pool, element t of the conv output gets the dx
// of its window's output when it is that window's first maximum, else 0.
CNNE_HOST_DEVICE inline void fused_dx(const FusedPlan& plan, const FusedStage& st, int64_t t) {
  auto dx_at = [&](int64_t at) {
    return fused_masked(st, at,
                        st.kind == kFusedLinear ? linear_dx(plan, st, at) : conv_dx(plan, st, at));
  };
  if (st.pool_before < 0) {
    st.dx[t] = dx_at(t);
    return;
  }
  const FusedStage& pool = plan.stages[st.pool_before];
  const FusedStage& conv = plan.stages[st.pool_before - 1];
  const int ti = static_cast<int>(t);
  const int ix = ti % pool.w, iy = (ti / pool.w) % pool.h, plane = ti / (pool.w * pool.h);
  const int64_t o = (int64_t(plane) * pool.p + iy / pool.kh) * pool.q + ix / pool.kw;
  const float v = pool.argmax[o] == iy * pool.w + ix ? dx_at(o) : 0.0f;
  conv.dy[t] = fused_masked(pool, t, v);  // the conv's ReLU
}

CNNE_HOST_DEVICE inline void fused_backward_linear(const FusedPlan& plan, const FusedStage& st,
                                                   int64_t n, int64_t tid, int64_t threads) {
  const int in = st.c, out = st.k;
  const int64_t dx_items = fused_dx_items(plan, st, n), dw_items = int64_t(out) * in;
  const int64_t total = dx_items + dw_items + (st.bias >= 0 ? out : 0);
  for (int64_t t = tid; t < total; t += threads) {
    if (t < dx_items) {  // dx (N, I) = dy (N, O) W (O, I)
      fused_dx(plan, st, t);
    } else if (t < dx_items + dw_items) {  // dW (O, I) = dy^T x
      const int64_t u = t - dx_items, o = static_cast<int>(u) / in, j = static_cast<int>(u) % in;
      float acc = 0.0f;
      for (int64_t i = 0; i < n; ++i) acc = acc + st.dy[i * out + o] * st.x[i * in + j];
      plan.grads[st.weight + u] = acc;
    } else {  // db (O) = sum over the batch of dy
      const int64_t o = t - dx_items - dw_items;
      float acc = 0.0f;
      for (int64_t i = 0; i < n; ++i) acc = acc + st.dy[i * out + o];
      plan.grads[st.bias + o] = acc;
    }
  }
}

CNNE_HOST_DEVICE inline void fused_backward_conv(const FusedPlan& plan, const FusedStage& st,
                                                 int64_t n, int64_t tid, int64_t threads) {
  const int C = st.c, H = st.h, W = st.w, K = st.k, P = st.p, Q = st.q, R = st.kh, S = st.kw;
  const int64_t dx_items = fused_dx_items(plan, st, n);
  const int64_t per_split = st.weight_count + K;  // bias partials follow the weight's
  const int64_t rows = n * P, splits = fused_splits(st, n);
  const int64_t total = dx_items + splits * per_split;
  for (int64_t t = tid; t < total; t += threads) {
    if (t < dx_items) {
      fused_dx(plan, st, t);
      continue;
    }
    // a partial sum of dW (K, C, R, S) or db (K) over one group of (image, output row) pairs
    const int u = static_cast<int>((t - dx_items) % per_split);
    const int g = static_cast<int>((t - dx_items) / per_split);
    const int row_begin = g * st.rows_per_split;
    const int row_end = row_begin + st.rows_per_split < rows ? row_begin + st.rows_per_split
                                                             : static_cast<int>(rows);
    // Two running sums, over even and odd rows of the group.
    float even = 0.0f, odd = 0.0f;
    if (u < st.weight_count) {
      const int s = u % S, r = (u / S) % R, ch = (u / (S * R)) % C, kk = u / (S * R * C);
      // the output columns whose window column s lies inside the image
      const int ox_begin = st.pw - s > 0 ? (st.pw - s + st.sw - 1) / st.sw : 0;
      const int last = W - 1 + st.pw - s;  // ox * sw <= last
      const int ox_limit = last < 0 ? 0 : last / st.sw + 1;
      const int ox_end = ox_limit < Q ? ox_limit : Q;
      auto add_row = [&](int row, float& acc) {
        const int i = row / P, oy = row % P;
        const int iy = oy * st.sh - st.ph + r;
        if (iy < 0 || iy >= H) return;
        const float* drow = st.dy + ((int64_t(i) * K + kk) * P + oy) * Q;
        const float* xrow = st.x + ((int64_t(i) * C + ch) * H + iy) * W;
        for (int ox = ox_begin; ox < ox_end; ++ox)
          acc = acc + drow[ox] * xrow[ox * st.sw - st.pw + s];
      };
      for (int row = row_begin; row < row_end; row += 2) {
        add_row(row, even);
        if (row + 1 < row_end) add_row(row + 1, odd);
      }
    } else {
      const int kk = u - static_cast<int>(st.weight_count);
      auto add_row = [&](int row, float& acc) {
        const float* drow = st.dy + ((int64_t(row / P) * K + kk) * P + row % P) * Q;
        for (int ox = 0; ox < Q; ++ox) acc = acc + drow[ox];
      };
      for (int row = row_begin; row < row_end; row += 2) {
        add_row(row, even);
        if (row + 1 < row_end) add_row(row + 1, odd);
      }
    }
    st.partials[int64_t(g) * per_split + u] = even + odd;
  }
}

// Max-pool backward as a gather: each input element sums dy over the windows
// whose (first) maximum it is, in window order.
CNNE_HOST_DEVICE inline void fused_backward_pool(const FusedStage& st, int64_t n, int64_t tid,
                                                 int64_t threads) {
  const int64_t total = n * st.c * st.h * st.w;
  for (int64_t t = tid; t < total; t += threads) {
    const int ti = static_cast<int>(t);
    const int ix = ti % st.w, iy = (ti / st.w) % st.h, plane = ti / (st.w * st.h);
    int y0, y1, x0, x1;
    pool_windows_containing(iy, st.kh, st.sh, st.ph, st.p, &y0, &y1);
    pool_windows_containing(ix, st.kw, st.sw, st.pw, st.q, &x0, &x1);
    const int32_t me = iy * st.w + ix;
    float acc = 0.0f;
    for (int oy = y0; oy <= y1; ++oy)
      for (int ox = x0; ox <= x1; ++ox) {
        const int64_t o = (int64_t(plane) * st.p + oy) * st.q + ox;
        if (st.argmax[o] == me) acc = acc + st.dy[o];
      }
    st.dx[t] = fused_masked(st, t, acc);
  }
}

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
