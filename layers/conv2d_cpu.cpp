// Conv2d, CPU reference: im2col + GEMM per image, bias sums in double.

#include "engine/cpu_gemm.h"
#include "engine/error.h"
#include "engine/ops.h"
#include "layers/im2col_cpu.h"
#include "layers/relu_math.h"

namespace cnne::cpu {

size_t conv2d_workspace_bytes(Context&, const Conv2dParams& p, const Shape& x, const Shape& w,
                              DType) {
  ConvGeometry g = conv_geometry(p, x, w);
  if (g.is_pointwise()) return 0;
  return sizeof(float) * static_cast<size_t>(g.col_rows() * g.col_cols());  // col: (C*R*S, P*Q)
}

namespace {

// The im2col scratch for one image, from the context's workspace.
float* col_scratch(Context& ctx, const ConvGeometry& g) {
  size_t need = sizeof(float) * static_cast<size_t>(g.col_rows() * g.col_cols());
  if (ctx.workspace_bytes() < need)
    throw Error("conv2d: workspace of " + std::to_string(ctx.workspace_bytes()) + " bytes, needs " +
                std::to_string(need) + " (was setup skipped?)");
  return static_cast<float*>(ctx.workspace());
}

}  // namespace

void conv2d_forward(Context& ctx, const Conv2dParams& p, const Tensor& x, const Tensor& w,
                    const Tensor* b, FusedActivation act, const Tensor& y) {
  const ConvGeometry g = conv_geometry(p, x.shape, w.shape);
  const int64_t n = x.shape[0], k = w.shape[0];
  const int64_t in_stride = g.c * g.h * g.w, out_stride = k * g.p * g.q;
  float* col = g.is_pointwise() ? nullptr : col_scratch(ctx, g);
  const float* xd = x.f32();
  float* yd = y.f32();
  for (int64_t i = 0; i < n; ++i) {
    const float* xi = xd + i * in_stride;
    float* yi = yd + i * out_stride;  // yi: (K, P*Q)
    if (col) im2col(g, xi, col);
    const float* a = col ? col : xi;  // (C*R*S, P*Q)
    if (b) {
      const float* bd = b->f32();
      for (int64_t kk = 0; kk < k; ++kk)
        for (int64_t j = 0; j < g.p * g.q; ++j) yi[kk * g.p * g.q + j] = bd[kk];
    }
    gemm(Trans::No, Trans::No, k, g.col_cols(), g.col_rows(), 1.0f, w.f32(), g.col_rows(), a,
         g.col_cols(), b ? 1.0f : 0.0f, yi, g.col_cols());
    if (act == FusedActivation::kRelu) relu_in_place(yi, out_stride);  // while yi is in cache
  }
}

void conv2d_backward_data(Context& ctx, const Conv2dParams& p, const Tensor& w, const Tensor& dy,
                          const Tensor& dx) {
  const ConvGeometry g = conv_geometry(p, dx.shape, w.shape);
  const int64_t n = dx.shape[0], k = w.shape[0];
  const int64_t in_stride = g.c * g.h * g.w, out_stride = k * g.p * g.q;
  float* col = g.is_pointwise() ? nullptr : col_scratch(ctx, g);
  for (int64_t i = 0; i < n; ++i) {
    float* dxi = dx.f32() + i * in_stride;
    const float* dyi = dy.f32() + i * out_stride;  // (K, P*Q)
    // dcol (C*R*S, P*Q) = w^T (C*R*S, K) * dy (K, P*Q)
    gemm(Trans::Yes, Trans::No, g.col_rows(), g.col_cols(), k, 1.0f, w.f32(), g.col_rows(), dyi,
         g.col_cols(), 0.0f, col ? col : dxi, g.col_cols());
    if (col) col2im(g, col, dxi);
  }
}

void conv2d_backward_filter(Context& ctx, const Conv2dParams& p, const Tensor& x, const Tensor& dy,
                            const Tensor& dw) {
  const ConvGeometry g = conv_geometry(p, x.shape, dw.shape);
  const int64_t n = x.shape[0], k = dw.shape[0];
  const int64_t in_stride = g.c * g.h * g.w, out_stride = k * g.p * g.q;
  float* col = g.is_pointwise() ? nullptr : col_scratch(ctx, g);
  for (int64_t i = 0; i < n; ++i) {
    const float* xi = x.f32() + i * in_stride;
    if (col) im2col(g, xi, col);
    // dw (K, C*R*S) (+)= dy_i (K, P*Q) * col^T (P*Q, C*R*S)
    gemm(Trans::No, Trans::Yes, k, g.col_rows(), g.col_cols(), 1.0f, dy.f32() + i * out_stride,
         g.col_cols(), col ? col : xi, g.col_cols(), i == 0 ? 0.0f : 1.0f, dw.f32(), g.col_rows());
  }
  if (n == 0) fill(ctx, dw, 0.0f);
}

void conv2d_backward_bias(Context&, const Tensor& dy, const Tensor& db) {
  const int64_t n = dy.shape[0], k = dy.shape[1], pq = dy.shape[2] * dy.shape[3];
  const float* d = dy.f32();
  for (int64_t kk = 0; kk < k; ++kk) {
    // Eight running sums in double, so the loop vectorizes without reassociating
    // anything the compiler would have to prove.
    double lanes[8] = {};
    double tail = 0.0;
    for (int64_t i = 0; i < n; ++i) {
      const float* plane = d + (i * k + kk) * pq;
      int64_t j = 0;
      for (; j + 8 <= pq; j += 8)
        for (int l = 0; l < 8; ++l) lanes[l] += plane[j + l];
      for (; j < pq; ++j) tail += plane[j];
    }
    double sum = tail;
    for (double lane : lanes) sum += lane;
    db.f32()[kk] = static_cast<float>(sum);
  }
}

}  // namespace cnne::cpu
