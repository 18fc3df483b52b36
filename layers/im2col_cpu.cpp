#include "layers/im2col_cpu.h"

#include <algorithm>
#include <cstring>

namespace cnne::cpu {

bool ConvGeometry::is_pointwise() const {
  return r == 1 && s == 1 && params.stride_h == 1 && params.stride_w == 1 && params.pad_h == 0 &&
         params.pad_w == 0;
}

ConvGeometry conv_geometry(const Conv2dParams& p, const Shape& x, const Shape& w) {
  ConvGeometry g;
  g.c = w[1];  // = x[1] / groups
  g.h = x[2];
  g.w = x[3];
  g.r = w[2];
  g.s = w[3];
  g.p = window_output_size(g.h, g.r, p.stride_h, p.pad_h, p.dilation_h);
  g.q = window_output_size(g.w, g.s, p.stride_w, p.pad_w, p.dilation_w);
  g.params = p;
  return g;
}

namespace {

// The output columns [lo, hi) whose kernel column `s` reads inside the image
// (0 <= oq*stride - pad + s*dilation < W); the rest read padding.
struct ColumnRange {
  int64_t lo, hi;
};

ColumnRange valid_columns(const ConvGeometry& g, int64_t s) {
  const int64_t sw = g.params.stride_w, tap = s * g.params.dilation_w;
  const int64_t first = g.params.pad_w - tap;  // oq*sw >= first
  const int64_t lo = first <= 0 ? 0 : (first + sw - 1) / sw;
  const int64_t last = g.w - 1 + g.params.pad_w - tap;  // oq*sw <= last
  const int64_t hi = last < 0 ? 0 : std::min(g.q, last / sw + 1);
  return {std::min(lo, hi), hi};
}

}  // namespace

void im2col(const ConvGeometry& g, const float* x, float* col) {
  const int64_t sh = g.params.stride_h, sw = g.params.stride_w;
  const int64_t ph = g.params.pad_h, pw = g.params.pad_w;
  const int64_t dh = g.params.dilation_h, dw = g.params.dilation_w;
  for (int64_t c = 0; c < g.c; ++c) {
    const float* xc = x + c * g.h * g.w;
    for (int64_t r = 0; r < g.r; ++r) {
      for (int64_t s = 0; s < g.s; ++s) {
        const ColumnRange cols = valid_columns(g, s);
        float* row = col + ((c * g.r + r) * g.s + s) * g.p * g.q;
        for (int64_t op = 0; op < g.p; ++op) {
          const int64_t ih = op * sh - ph + r * dh;
          float* __restrict out = row + op * g.q;
          if (ih < 0 || ih >= g.h) {
            for (int64_t oq = 0; oq < g.q; ++oq) out[oq] = 0.0f;
            continue;
          }
          const float* __restrict xrow = xc + ih * g.w;  // (W); column oq reads oq*sw + shift
          const int64_t shift = s * dw - pw;
          for (int64_t oq = 0; oq < cols.lo; ++oq) out[oq] = 0.0f;
          // A contiguous run: memcpy beats a vectorized loop's set-up for short rows.
          if (sw == 1 && cols.hi > cols.lo)
            std::memcpy(out + cols.lo, xrow + cols.lo + shift,
                        sizeof(float) * static_cast<size_t>(cols.hi - cols.lo));
          else if (sw != 1)
            for (int64_t oq = cols.lo; oq < cols.hi; ++oq) out[oq] = xrow[oq * sw + shift];
          for (int64_t oq = cols.hi; oq < g.q; ++oq) out[oq] = 0.0f;
        }
      }
    }
  }
}

void col2im(const ConvGeometry& g, const float* col, float* dx) {
  const int64_t sh = g.params.stride_h, sw = g.params.stride_w;
  const int64_t ph = g.params.pad_h, pw = g.params.pad_w;
  const int64_t dh = g.params.dilation_h, dw = g.params.dilation_w;
  std::memset(dx, 0, sizeof(float) * static_cast<size_t>(g.c * g.h * g.w));
  for (int64_t c = 0; c < g.c; ++c) {
    float* dxc = dx + c * g.h * g.w;
    for (int64_t r = 0; r < g.r; ++r) {
      for (int64_t s = 0; s < g.s; ++s) {
        const ColumnRange cols = valid_columns(g, s);
        const float* row = col + ((c * g.r + r) * g.s + s) * g.p * g.q;
        for (int64_t op = 0; op < g.p; ++op) {
          const int64_t ih = op * sh - ph + r * dh;
          if (ih < 0 || ih >= g.h) continue;
          float* __restrict dxrow = dxc + ih * g.w;  // (W); column oq adds to oq*sw + shift
          const float* __restrict in = row + op * g.q;
          const int64_t shift = s * dw - pw;
          if (sw == 1)
            for (int64_t oq = cols.lo; oq < cols.hi; ++oq) dxrow[oq + shift] += in[oq];
          else
            for (int64_t oq = cols.lo; oq < cols.hi; ++oq) dxrow[oq * sw + shift] += in[oq];
        }
      }
    }
  }
}

}  // namespace cnne::cpu
