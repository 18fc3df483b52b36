// Mul, CPU reference (F32, NCHW: Note [mul geometry]). A gate's gradient sums
// the exact double products dy * x of its plane in order, in double.
#include "engine/ops.h"
#include "layers/mul_geometry.h"

namespace cnne::cpu {

void mul_forward(Context&, const Tensor& x, const Tensor& s, const Tensor& y) {
  const MulGeometry g = mul_geometry(x, s, "mul " + x.shape.str() + " * " + s.shape.str());
  const float *px = x.f32(), *ps = s.f32();
  float* py = y.f32();
  for (int64_t i = 0; i < g.count; ++i) py[i] = px[i] * ps[mul_gate_index(i, g)];
}

void mul_backward(Context&, const Tensor& x, const Tensor& s, const Tensor& dy, const Tensor* dx,
                  const Tensor* ds) {
  const MulGeometry g = mul_geometry(x, s, "mul backward " + x.shape.str() + " * " + s.shape.str());
  const float *px = x.f32(), *ps = s.f32(), *pdy = dy.f32();
  if (dx) {
    float* pdx = dx->f32();
    for (int64_t i = 0; i < g.count; ++i) pdx[i] = pdy[i] * ps[mul_gate_index(i, g)];
  }
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
