// MaxPool2d, CPU reference. Padding never wins (it reads as -infinity); ties
// go to the first maximum in window order, as in PyTorch's CPU kernel.
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

}  // namespace

void maxpool2d_forward(Context&, const Pool2dParams& p, const Tensor& x, const Tensor& y) {
  const PoolWalk g{x.shape[2], x.shape[3], y.shape[2], y.shape[3], p};
  const int64_t planes = x.shape[0] * x.shape[1];
  for (int64_t pl = 0; pl < planes; ++pl) {
    const float* xp = x.f32() + pl * g.h * g.w;  // (H, W)
    float* yp = y.f32() + pl * g.p * g.q;        // (P, Q)
    for (int64_t op = 0; op < g.p; ++op)
      for (int64_t oq = 0; oq < g.q; ++oq) {
        const int64_t at = argmax_in_window(g, xp, op, oq);
        yp[op * g.q + oq] = at < 0 ? -std::numeric_limits<float>::infinity() : xp[at];
      }
  }
}

void maxpool2d_backward(Context&, const Pool2dParams& p, const Tensor& x, const Tensor&,
                        const Tensor& dy, const Tensor& dx) {
  const PoolWalk g{x.shape[2], x.shape[3], dy.shape[2], dy.shape[3], p};
  const int64_t planes = x.shape[0] * x.shape[1];
  std::memset(dx.data, 0, dx.bytes());
  for (int64_t pl = 0; pl < planes; ++pl) {
    const float* xp = x.f32() + pl * g.h * g.w;
    const float* dyp = dy.f32() + pl * g.p * g.q;
    float* dxp = dx.f32() + pl * g.h * g.w;
    for (int64_t op = 0; op < g.p; ++op)
      for (int64_t oq = 0; oq < g.q; ++oq) {
        const int64_t at = argmax_in_window(g, xp, op, oq);
        if (at >= 0) dxp[at] += dyp[op * g.q + oq];
      }
  }
}

}  // namespace cnne::cpu
