// Average pooling and global average pooling, CPU reference (sums in double).
#include <algorithm>
#include <cstring>

#include "engine/ops.h"

namespace cnne::cpu {
namespace {

// What window (op, oq) divides its sum by: its kernel area, or with
// count_include_pad false the pixels of it inside the h x w image.
int64_t window_divisor(const Pool2dParams& p, int64_t op, int64_t oq, int64_t h, int64_t w) {
  if (p.count_include_pad) return static_cast<int64_t>(p.kernel_h) * p.kernel_w;
  const auto inside = [](int64_t start, int64_t kernel, int64_t size) {
    const int64_t lo = std::max<int64_t>(start, 0), hi = std::min(start + kernel, size);
    return std::max<int64_t>(hi - lo, 0);
  };
  return inside(op * p.stride_h - p.pad_h, p.kernel_h, h) *
         inside(oq * p.stride_w - p.pad_w, p.kernel_w, w);
}

}  // namespace

void avgpool2d_forward(Context&, const Pool2dParams& p, const Tensor& x, const Tensor& y) {
  const int64_t planes = x.shape[0] * x.shape[1], h = x.shape[2], w = x.shape[3];
  const int64_t ph = y.shape[2], qw = y.shape[3];
  for (int64_t pl = 0; pl < planes; ++pl) {
    const float* xp = x.f32() + pl * h * w;
    float* yp = y.f32() + pl * ph * qw;
    for (int64_t op = 0; op < ph; ++op)
      for (int64_t oq = 0; oq < qw; ++oq) {
        double sum = 0;
        for (int64_t r = 0; r < p.kernel_h; ++r) {
          const int64_t ih = op * p.stride_h - p.pad_h + r;
          if (ih < 0 || ih >= h) continue;
          for (int64_t s = 0; s < p.kernel_w; ++s) {
            const int64_t iw = oq * p.stride_w - p.pad_w + s;
            if (iw >= 0 && iw < w) sum += xp[ih * w + iw];
          }
        }
        yp[op * qw + oq] =
            static_cast<float>(sum / static_cast<double>(window_divisor(p, op, oq, h, w)));
      }
  }
}

void avgpool2d_backward(Context&, const Pool2dParams& p, const Tensor&, const Tensor&,
                        const Tensor& dy, const Tensor& dx) {
  const int64_t planes = dx.shape[0] * dx.shape[1], h = dx.shape[2], w = dx.shape[3];
  const int64_t ph = dy.shape[2], qw = dy.shape[3];
  std::memset(dx.data, 0, dx.bytes());
  for (int64_t pl = 0; pl < planes; ++pl) {
    const float* dyp = dy.f32() + pl * ph * qw;
    float* dxp = dx.f32() + pl * h * w;
    for (int64_t op = 0; op < ph; ++op)
      for (int64_t oq = 0; oq < qw; ++oq) {
        const float g =
            dyp[op * qw + oq] * (1.0f / static_cast<float>(window_divisor(p, op, oq, h, w)));
        for (int64_t r = 0; r < p.kernel_h; ++r) {
          const int64_t ih = op * p.stride_h - p.pad_h + r;
          if (ih < 0 || ih >= h) continue;
          for (int64_t s = 0; s < p.kernel_w; ++s) {
            const int64_t iw = oq * p.stride_w - p.pad_w + s;
            if (iw >= 0 && iw < w) dxp[ih * w + iw] += g;
          }
        }
      }
  }
}

void global_avgpool_forward(Context&, const Tensor& x, const Tensor& y) {
  const int64_t planes = x.shape[0] * x.shape[1], area = x.shape[2] * x.shape[3];
  for (int64_t pl = 0; pl < planes; ++pl) {
    const float* xp = x.f32() + pl * area;
    double sum = 0;
    for (int64_t i = 0; i < area; ++i) sum += xp[i];
    y.f32()[pl] = static_cast<float>(sum / static_cast<double>(area));
  }
}

void global_avgpool_backward(Context&, const Tensor& dy, const Tensor& dx) {
  const int64_t planes = dx.shape[0] * dx.shape[1], area = dx.shape[2] * dx.shape[3];
  for (int64_t pl = 0; pl < planes; ++pl) {
    const float g = dy.f32()[pl] / static_cast<float>(area);
    float* dxp = dx.f32() + pl * area;
    for (int64_t i = 0; i < area; ++i) dxp[i] = g;
  }
}

}  // namespace cnne::cpu
