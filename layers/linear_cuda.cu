// Linear on the GPU: cuBLAS SGEMMs in strict FP32 and a bias kernel pair.
// cuBLAS is column-major; a row-major (R, C) matrix is its (C, R) transpose,
// so each product below is written for the transposes.
#include "cuda/check.h"
#include "cuda/cuda_context.h"
#include "cuda/launch.h"
#include "engine/ops.h"
#include "layers/bias_activation_cuda.h"

namespace cnne::cuda {
namespace {

const float kOne = 1.0f, kZero = 0.0f;

int narrow(int64_t v) {
  return static_cast<int>(v);
}

// y (N, O) row r = b
__global__ void broadcast_rows_kernel(float* y, const float* b, int64_t n, int64_t o) {
  for (int64_t i = blockIdx.x * int64_t(blockDim.x) + threadIdx.x; i < n * o;
       i += int64_t(gridDim.x) * blockDim.x)
    y[i] = b[i % o];
}

// db (O) = sum over rows of dy (N, O); one thread per column, rows summed in
// order in double (deterministic, like the CPU reference).
__global__ void sum_rows_kernel(const float* dy, float* db, int64_t n, int64_t o) {
  for (int64_t j = blockIdx.x * int64_t(blockDim.x) + threadIdx.x; j < o;
       j += int64_t(gridDim.x) * blockDim.x) {
    double sum = 0.0;
    for (int64_t i = 0; i < n; ++i) sum += dy[i * o + j];
    db[j] = static_cast<float>(sum);
  }
}

}  // namespace

void linear_forward(Context& ctx, const Tensor& x, const Tensor& w, const Tensor* b,
                    FusedActivation act, const Tensor& y) {
  CudaContext& cu = ctx.cuda();
  const int64_t n = x.shape[0], in = x.shape[1], out = w.shape[0];
  if (act == FusedActivation::kRelu) {
    // y^T (O, N) = w (O, I) . x^T (I, N), then bias and ReLU in one pass
    CNNE_CHECK_AT(
        cublasSgemm(cu.cublas(), CUBLAS_OP_T, CUBLAS_OP_N, narrow(out), narrow(n), narrow(in),
                    &kOne, w.f32(), narrow(in), x.f32(), narrow(in), &kZero, y.f32(), narrow(out)),
        "linear forward x " + x.shape.str() + " w " + w.shape.str());
    add_bias_activation(cu, y.f32(), b ? b->f32() : nullptr, n, out, 1, act, "linear forward");
    return;
  }
  if (b) {
    broadcast_rows_kernel<<<blocks_for(n * out), kThreads, 0, cu.stream()>>>(y.f32(), b->f32(), n,
                                                                             out);
    CNNE_CHECK_LAUNCH("linear bias " + y.shape.str());
  }
  // y^T (O, N) (+)= w (O, I) . x^T (I, N)
  CNNE_CHECK_AT(cublasSgemm(cu.cublas(), CUBLAS_OP_T, CUBLAS_OP_N, narrow(out), narrow(n),
                            narrow(in), &kOne, w.f32(), narrow(in), x.f32(), narrow(in),
                            b ? &kOne : &kZero, y.f32(), narrow(out)),
                "linear forward x " + x.shape.str() + " w " + w.shape.str());
}

void linear_backward_data(Context& ctx, const Tensor& w, const Tensor& dy, const Tensor& dx) {
  const int64_t n = dy.shape[0], out = w.shape[0], in = w.shape[1];
  // dx^T (I, N) = w^T (I, O) . dy^T (O, N)
  CNNE_CHECK_AT(
      cublasSgemm(ctx.cuda().cublas(), CUBLAS_OP_N, CUBLAS_OP_N, narrow(in), narrow(n), narrow(out),
                  &kOne, w.f32(), narrow(in), dy.f32(), narrow(out), &kZero, dx.f32(), narrow(in)),
      "linear backward data dy " + dy.shape.str());
}

void linear_backward_weight(Context& ctx, const Tensor& x, const Tensor& dy, const Tensor& dw) {
  const int64_t n = x.shape[0], in = x.shape[1], out = dy.shape[1];
  // dw^T (I, O) = x^T (I, N) . dy (N, O)
  CNNE_CHECK_AT(
      cublasSgemm(ctx.cuda().cublas(), CUBLAS_OP_N, CUBLAS_OP_T, narrow(in), narrow(out), narrow(n),
                  &kOne, x.f32(), narrow(in), dy.f32(), narrow(out), &kZero, dw.f32(), narrow(in)),
      "linear backward weight x " + x.shape.str());
}

void linear_backward_bias(Context& ctx, const Tensor& dy, const Tensor& db) {
  const int64_t n = dy.shape[0], out = dy.shape[1];
  sum_rows_kernel<<<blocks_for(out), kThreads, 0, ctx.cuda().stream()>>>(dy.f32(), db.f32(), n,
                                                                         out);
  CNNE_CHECK_LAUNCH("linear backward bias " + dy.shape.str());
}

}  // namespace cnne::cuda
