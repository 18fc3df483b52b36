// Mul, CPU reference (F32, NCHW: Note [mul geometry]; the mixed wrapper hands
// it NCHW copies of channels-last tensors). A gate's gradient sums the exact
// double products dy * x of its plane in order, in double.
#include "engine/ops.h"
#include "layers/mul_geometry.h"

namespace cnne::cpu {

namespace {

// out = a * s[plane], plane by plane (NCHW: each plane's area contiguous).
void scale_planes(const MulGeometry& g, const float* a, const float* s, float* out) {
  for (int64_t p = 0; p < g.planes; ++p) {
    const float gate = s[p];
    const int64_t first = p * g.area;
    for (int64_t i = first; i < first + g.area; ++i) out[i] = a[i] * gate;
  }
}

}  // namespace

void mul_forward(Context&, const Tensor& x, const Tensor& s, const Tensor& y) {
  const MulGeometry g = mul_geometry(x, s, "mul " + x.shape.str() + " * " + s.shape.str());
  scale_planes(g, x.f32(), s.f32(), y.f32());
}

void mul_backward(Context&, const Tensor& x, const Tensor& s, const Tensor& dy, const Tensor* dx,
                  const Tensor* ds) {
  const MulGeometry g = mul_geometry(x, s, "mul backward " + x.shape.str() + " * " + s.shape.str());
  const float *px = x.f32(), *ps = s.f32(), *pdy = dy.f32();
  if (dx) scale_planes(g, pdy, ps, dx->f32());
  if (ds) {
    float* pds = ds->f32();
    for (int64_t p = 0; p < g.planes; ++p) {
      double sum = 0;
      for (int64_t i = p * g.area, end = i + g.area; i < end; ++i)
        sum += static_cast<double>(pdy[i]) * static_cast<double>(px[i]);
      pds[p] = static_cast<float>(sum);
    }
  }
}

}  // namespace cnne::cpu
