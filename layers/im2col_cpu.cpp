#include "layers/im2col_cpu.h"

#include <cstring>

namespace cnne::cpu {

bool ConvGeometry::is_pointwise() const {
  return r == 1 && s == 1 && params.stride_h == 1 && params.stride_w == 1 && params.pad_h == 0 &&
         params.pad_w == 0;
}

ConvGeometry conv_geometry(const Conv2dParams& p, const Shape& x, const Shape& w) {
  ConvGeometry g;
  g.c = x[1];
  g.h = x[2];
  g.w = x[3];
  g.r = w[2];
  g.s = w[3];
  g.p = window_output_size(g.h, g.r, p.stride_h, p.pad_h);
  g.q = window_output_size(g.w, g.s, p.stride_w, p.pad_w);
  g.params = p;
  return g;
}

void im2col(const ConvGeometry& g, const float* x, float* col) {
  const int64_t sh = g.params.stride_h, sw = g.params.stride_w;
  const int64_t ph = g.params.pad_h, pw = g.params.pad_w;
  for (int64_t c = 0; c < g.c; ++c) {
    const float* xc = x + c * g.h * g.w;
    for (int64_t r = 0; r < g.r; ++r) {
      for (int64_t s = 0; s < g.s; ++s) {
        float* row = col + ((c * g.r + r) * g.s + s) * g.p * g.q;
        for (int64_t op = 0; op < g.p; ++op) {
          const int64_t ih = op * sh - ph + r;
          float* out = row + op * g.q;
          if (ih < 0 || ih >= g.h) {
            std::memset(out, 0, sizeof(float) * static_cast<size_t>(g.q));
            continue;
          }
          const float* xrow = xc + ih * g.w;
          if (sw == 1 && pw == 0) {  // contiguous window row: the common case
            std::memcpy(out, xrow + s, sizeof(float) * static_cast<size_t>(g.q));
            continue;
          }
          for (int64_t oq = 0; oq < g.q; ++oq) {
            const int64_t iw = oq * sw - pw + s;
            out[oq] = (iw >= 0 && iw < g.w) ? xrow[iw] : 0.0f;
          }
        }
      }
    }
  }
}

void col2im(const ConvGeometry& g, const float* col, float* dx) {
  const int64_t sh = g.params.stride_h, sw = g.params.stride_w;
  const int64_t ph = g.params.pad_h, pw = g.params.pad_w;
  std::memset(dx, 0, sizeof(float) * static_cast<size_t>(g.c * g.h * g.w));
  for (int64_t c = 0; c < g.c; ++c) {
    float* dxc = dx + c * g.h * g.w;
    for (int64_t r = 0; r < g.r; ++r) {
      for (int64_t s = 0; s < g.s; ++s) {
        const float* row = col + ((c * g.r + r) * g.s + s) * g.p * g.q;
        for (int64_t op = 0; op < g.p; ++op) {
          const int64_t ih = op * sh - ph + r;
          if (ih < 0 || ih >= g.h) continue;
          float* dxrow = dxc + ih * g.w;
          const float* in = row + op * g.q;
          for (int64_t oq = 0; oq < g.q; ++oq) {
            const int64_t iw = oq * sw - pw + s;
            if (iw >= 0 && iw < g.w) dxrow[iw] += in[oq];
          }
        }
      }
    }
  }
}

}  // namespace cnne::cpu
