// PReLU, CPU reference (F32 NCHW; the mixed wrapper hands it NCHW copies):
// PyTorch's x > 0 ? x : w * x; a slope's gradient sums the exact double
// products x * dy of its negative elements in order, in double.
#include "engine/ops.h"
#include "layers/prelu_geometry.h"

namespace cnne::cpu {

void prelu_forward(Context&, const Tensor& x, const Tensor& weight, const Tensor& y) {
  const PreluGeometry g = prelu_geometry(x, weight, "prelu " + x.shape.str());
  const float *px = x.f32(), *pw = weight.f32();
  float* py = y.f32();
  for (int64_t i = 0; i < g.count; ++i) {
    const float v = px[i];
    py[i] = v > 0.0f ? v : pw[prelu_weight_index(i, g)] * v;
  }
}

void prelu_backward(Context&, const Tensor& x, const Tensor& weight, const Tensor& dy,
                    const Tensor* dx, const Tensor& dweight) {
  const PreluGeometry g = prelu_geometry(x, weight, "prelu backward " + x.shape.str());
  const float *px = x.f32(), *pw = weight.f32(), *pdy = dy.f32();
  if (dx) {
    float* pdx = dx->f32();
    for (int64_t i = 0; i < g.count; ++i)
      pdx[i] = px[i] > 0.0f ? pdy[i] : pw[prelu_weight_index(i, g)] * pdy[i];
  }
  float* pdw = dweight.f32();
  for (int64_t w = 0; w < g.weights; ++w) {
    double sum = 0;
    for (int64_t k = 0; k < g.per_weight(); ++k) {
      const int64_t i = prelu_element(w, k, g);
      if (!(px[i] > 0.0f)) sum += static_cast<double>(px[i]) * static_cast<double>(pdy[i]);
    }
    pdw[w] = static_cast<float>(sum);
  }
}

}  // namespace cnne::cpu
