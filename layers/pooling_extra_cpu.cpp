// Average pooling and global average pooling, CPU reference (sums in double).
#include <cstring>

#include "engine/ops.h"

namespace cnne::cpu {

void avgpool2d_forward(Context&, const Pool2dParams& p, const Tensor& x, const Tensor& y) {
  const int64_t planes = x.shape[0] * x.shape[1], h = x.shape[2], w = x.shape[3];
  const int64_t ph = y.shape[2], qw = y.shape[3];
  const double area = static_cast<double>(p.kernel_h * p.kernel_w);  // count_include_pad
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
        yp[op * qw + oq] = static_cast<float>(sum / area);
      }
  }
}

void avgpool2d_backward(Context&, const Pool2dParams& p, const Tensor&, const Tensor&,
                        const Tensor& dy, const Tensor& dx) {
  const int64_t planes = dx.shape[0] * dx.shape[1], h = dx.shape[2], w = dx.shape[3];
  const int64_t ph = dy.shape[2], qw = dy.shape[3];
  const float inv_area = 1.0f / static_cast<float>(p.kernel_h * p.kernel_w);
  std::memset(dx.data, 0, dx.bytes());
  for (int64_t pl = 0; pl < planes; ++pl) {
    const float* dyp = dy.f32() + pl * ph * qw;
    float* dxp = dx.f32() + pl * h * w;
    for (int64_t op = 0; op < ph; ++op)
      for (int64_t oq = 0; oq < qw; ++oq) {
        const float g = dyp[op * qw + oq] * inv_area;
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
