// Linear, CPU reference: GEMMs through OpenBLAS, bias sums in double.
#include "engine/cpu_gemm.h"
#include "engine/ops.h"
#include "layers/relu_math.h"

namespace cnne::cpu {

void linear_forward(Context&, const Tensor& x, const Tensor& w, const Tensor* b,
                    FusedActivation act, const Tensor& y) {
  const int64_t n = x.shape[0], in = x.shape[1], out = w.shape[0];
  float* yd = y.f32();  // (N, O)
  if (b) {
    const float* bd = b->f32();
    for (int64_t i = 0; i < n; ++i)
      for (int64_t o = 0; o < out; ++o) yd[i * out + o] = bd[o];
  }
  // y (N, O) (+)= x (N, I) * w^T (I, O)
  gemm(Trans::No, Trans::Yes, n, out, in, 1.0f, x.f32(), in, w.f32(), in, b ? 1.0f : 0.0f, yd, out);
  if (act == FusedActivation::kRelu) relu_in_place(yd, n * out);
}

void linear_backward_data(Context&, const Tensor& w, const Tensor& dy, const Tensor& dx) {
  const int64_t n = dy.shape[0], out = w.shape[0], in = w.shape[1];
  // dx (N, I) = dy (N, O) * w (O, I)
  gemm(Trans::No, Trans::No, n, in, out, 1.0f, dy.f32(), out, w.f32(), in, 0.0f, dx.f32(), in);
}

void linear_backward_weight(Context&, const Tensor& x, const Tensor& dy, const Tensor& dw) {
  const int64_t n = x.shape[0], in = x.shape[1], out = dy.shape[1];
  // dw (O, I) = dy^T (O, N) * x (N, I)
  gemm(Trans::Yes, Trans::No, out, in, n, 1.0f, dy.f32(), out, x.f32(), in, 0.0f, dw.f32(), in);
}

void linear_backward_bias(Context&, const Tensor& dy, const Tensor& db) {
  const int64_t n = dy.shape[0], out = dy.shape[1];
  for (int64_t o = 0; o < out; ++o) {
    double sum = 0.0;
    for (int64_t i = 0; i < n; ++i) sum += dy.f32()[i * out + o];
    db.f32()[o] = static_cast<float>(sum);
  }
}

}  // namespace cnne::cpu
