#pragma once
// The fused step's backward phases (Note [fused step] in engine/fused_step.h):
// each stage's dx (through a fused max-pool, the conv output's gradient), a
// linear stage's dW and db, a conv stage's dW and db as partial sums over
// groups of output rows, the max-pool gather.
#include <cstdint>

#include "engine/fused_math.h"
#include "engine/fused_plan.h"
#include "engine/host_device.h"
#include "layers/pool_windows.h"

namespace cnne {

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

}  // namespace cnne
