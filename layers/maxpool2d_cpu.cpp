// MaxPool2d, CPU reference. Padding never wins (it reads as -infinity); ties
// go to the first maximum in window order, as in PyTorch's CPU kernel.
#include <algorithm>
#include <bit>
#include <cstdint>
#include <cstring>
#include <limits>

#include "engine/ops.h"

namespace cnne::cpu {
namespace {

struct PoolWalk {
  int64_t h, w, p, q;
  Pool2dParams prm;
};

// Index into one (H, W) plane of the first maximum of output cell (op, oq), or -1 if the
// window lies entirely in padding.
int64_t argmax_in_window(const PoolWalk& g, const float* plane, int64_t op, int64_t oq) {
  int64_t best = -1;
  float best_value = -std::numeric_limits<float>::infinity();
  for (int64_t r = 0; r < g.prm.kernel_h; ++r) {
    const int64_t ih = op * g.prm.stride_h - g.prm.pad_h + r;
    if (ih < 0 || ih >= g.h) continue;
    for (int64_t s = 0; s < g.prm.kernel_w; ++s) {
      const int64_t iw = oq * g.prm.stride_w - g.prm.pad_w + s;
      if (iw < 0 || iw >= g.w) continue;
      const float v = plane[ih * g.w + iw];
      if (best < 0 || v > best_value || v != v) {  // NaN propagates, like PyTorch
        best = ih * g.w + iw;
        best_value = v;
      }
    }
  }
  return best;
}

// Windows that tile the input without overlap or padding (the tutorial's
// 2x2/2): each input pixel belongs to at most one window, so the backward can
// write every dx element once instead of clearing and scattering.
bool is_tiling(const PoolWalk& g) {
  return g.prm.kernel_h == g.prm.stride_h && g.prm.kernel_w == g.prm.stride_w && g.prm.pad_h == 0 &&
         g.prm.pad_w == 0;
}

// `candidate` replaces `best` under argmax_in_window's rule.
inline bool wins(float candidate, float best) {
  return (candidate > best) | (candidate != candidate);  // `|`: no short-circuit branch
}

// take_a ? a : b without a branch. On real data the winner of a 2x2 window is
// a coin toss, and GCC compiles a scalar float ?: (the loops' tails, all of a
// 5-wide row) to jumps that mispredict; a bit mask vectorizes just as well.
inline float pick(bool take_a, float a, float b) {
  const uint32_t mask = 0u - static_cast<uint32_t>(take_a);
  return std::bit_cast<float>((std::bit_cast<uint32_t>(a) & mask) |
                              (std::bit_cast<uint32_t>(b) & ~mask));
}

// 2x2 windows with stride 2 (the tutorial's pooling), one output row at a
// time: x rows r0, r1 (W) -> y (Q). Selects only, and restrict pointers, so
// the compiler vectorizes it.
void pool_row_2x2(const float* __restrict r0, const float* __restrict r1, int64_t q,
                  float* __restrict y) {
  for (int64_t j = 0; j < q; ++j) {
    const float a = r0[2 * j], b = r0[2 * j + 1], c = r1[2 * j], d = r1[2 * j + 1];
    float m = a;
    m = pick(wins(b, m), b, m);
    m = pick(wins(c, m), c, m);
    m = pick(wins(d, m), d, m);
    y[j] = m;
  }
}

// The backward of pool_row_2x2: dy row (Q) -> dx rows d0, d1 (W), the
// gradient to each window's winner (the same rule as above) and zero elsewhere.
void pool_backward_row_2x2(const float* __restrict r0, const float* __restrict r1,
                           const float* __restrict gy, int64_t q, float* __restrict d0,
                           float* __restrict d1) {
  for (int64_t j = 0; j < q; ++j) {
    const float a = r0[2 * j], b = r0[2 * j + 1], c = r1[2 * j], d = r1[2 * j + 1];
    // the winner as four exclusive flags
    const bool wb = wins(b, a);
    const float m1 = pick(wb, b, a);
    const bool wc = wins(c, m1);
    const float m2 = pick(wc, c, m1);
    const bool wd = wins(d, m2);
    const float g1 = gy[j];
    const float g_before_d = pick(wd, 0.0f, g1);  // the winner is among a, b, c
    const float g_before_c = pick(wc, 0.0f, g_before_d);
    d0[2 * j] = pick(wb, 0.0f, g_before_c);
    d0[2 * j + 1] = pick(wb, g_before_c, 0.0f);
    d1[2 * j] = pick(wc, g_before_d, 0.0f);
    d1[2 * j + 1] = pick(wd, g1, 0.0f);
  }
}

bool is_2x2_stride_2(const Pool2dParams& p) {
  return p.kernel_h == 2 && p.kernel_w == 2 && p.stride_h == 2 && p.stride_w == 2 && p.pad_h == 0 &&
         p.pad_w == 0;
}

// argmax_in_window for tiling windows, which lie inside the plane: no bounds checks.
int64_t tiling_argmax(const PoolWalk& g, const float* plane, int64_t op, int64_t oq) {
  const int64_t top = op * g.prm.kernel_h, left = oq * g.prm.kernel_w;
  int64_t best = top * g.w + left;
  float best_value = plane[best];
  for (int64_t r = 0; r < g.prm.kernel_h; ++r) {
    const float* row = plane + (top + r) * g.w + left;
    for (int64_t s = 0; s < g.prm.kernel_w; ++s)
      if (row[s] > best_value || row[s] != row[s]) {  // same rule as argmax_in_window
        best = (top + r) * g.w + left + s;
        best_value = row[s];
      }
  }
  return best;
}

// dx plane (H, W) from dy plane (P, Q) for tiling windows, in one pass.
void tiling_backward(const PoolWalk& g, const float* x, const float* dy, float* dx) {
  const int64_t kh = g.prm.kernel_h, kw = g.prm.kernel_w;
  if (is_2x2_stride_2(g.prm)) {
    for (int64_t op = 0; op < g.p; ++op) {
      const float* r0 = x + 2 * op * g.w;
      float* d0 = dx + 2 * op * g.w;
      pool_backward_row_2x2(r0, r0 + g.w, dy + op * g.q, g.q, d0, d0 + g.w);
    }
  } else {
    for (int64_t op = 0; op < g.p; ++op)
      for (int64_t oq = 0; oq < g.q; ++oq) {
        const int64_t at = tiling_argmax(g, x, op, oq);
        for (int64_t r = 0; r < kh; ++r)
          for (int64_t s = 0; s < kw; ++s) {
            const int64_t i = (op * kh + r) * g.w + oq * kw + s;
            dx[i] = i == at ? dy[op * g.q + oq] : 0.0f;
          }
      }
  }
  // Rows and columns past the last whole window (floor mode) get no gradient.
  for (int64_t h = g.p * kh; h < g.h; ++h)
    for (int64_t w = 0; w < g.w; ++w) dx[h * g.w + w] = 0.0f;
  for (int64_t h = 0; h < g.p * kh; ++h)
    for (int64_t w = g.q * kw; w < g.w; ++w) dx[h * g.w + w] = 0.0f;
}

int64_t planes_grain(const PoolWalk& g) {
  return grain_for(g.h * g.w);
}

}  // namespace

// Every plane is independent: the planes are split over threads.
void maxpool2d_forward(Context& ctx, const Pool2dParams& p, const Tensor& x, const Tensor& y) {
  const PoolWalk g{x.shape[2], x.shape[3], y.shape[2], y.shape[3], p};
  const bool tiling = is_tiling(g);
  ctx.parallel(x.shape[0] * x.shape[1], planes_grain(g), [&](int, int64_t begin, int64_t end) {
    for (int64_t pl = begin; pl < end; ++pl) {
      const float* xp = x.f32() + pl * g.h * g.w;  // (H, W)
      float* yp = y.f32() + pl * g.p * g.q;        // (P, Q)
      if (is_2x2_stride_2(p)) {
        for (int64_t op = 0; op < g.p; ++op)
          pool_row_2x2(xp + 2 * op * g.w, xp + (2 * op + 1) * g.w, g.q, yp + op * g.q);
        continue;
      }
      for (int64_t op = 0; op < g.p; ++op)
        for (int64_t oq = 0; oq < g.q; ++oq) {
          const int64_t at =
              tiling ? tiling_argmax(g, xp, op, oq) : argmax_in_window(g, xp, op, oq);
          yp[op * g.q + oq] = at < 0 ? -std::numeric_limits<float>::infinity() : xp[at];
        }
    }
  });
}

void maxpool2d_backward(Context& ctx, const Pool2dParams& p, const Tensor& x, const Tensor&,
                        const Tensor& dy, const Tensor& dx) {
  const PoolWalk g{x.shape[2], x.shape[3], dy.shape[2], dy.shape[3], p};
  const bool tiling = is_tiling(g);
  ctx.parallel(x.shape[0] * x.shape[1], planes_grain(g), [&](int, int64_t begin, int64_t end) {
    for (int64_t pl = begin; pl < end; ++pl) {
      const float* xp = x.f32() + pl * g.h * g.w;    // (H, W)
      const float* dyp = dy.f32() + pl * g.p * g.q;  // (P, Q)
      float* dxp = dx.f32() + pl * g.h * g.w;        // (H, W)
      if (tiling) {
        tiling_backward(g, xp, dyp, dxp);
        continue;
      }
      std::memset(dxp, 0, sizeof(float) * static_cast<size_t>(g.h * g.w));
      for (int64_t op = 0; op < g.p; ++op)
        for (int64_t oq = 0; oq < g.q; ++oq) {
          const int64_t at = argmax_in_window(g, xp, op, oq);
          if (at >= 0) dxp[at] += dyp[op * g.q + oq];
        }
    }
  });
}

}  // namespace cnne::cpu
