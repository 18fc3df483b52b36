// Linear on the GPU: cuBLAS SGEMMs in strict FP32 and the shared bias kernels.
// cuBLAS is column-major; a row-major (R, C) matrix is its (C, R) transpose,
// so each product below is written for the transposes. Under mixed precision
// (Note [mixed precision]) x, w, y and their gradients are BF16/F16:
// cublasGemmEx with F32 accumulation (tensor cores), the F32 bias through the
// bias epilogue and its gradient through bias_gradient.
#include "cuda/check.h"
#include "cuda/cuda_context.h"
#include "cuda/element.cuh"
#include "cuda/launch.h"
#include "engine/ops.h"
#include "layers/bias_activation_cuda.h"
#include "layers/linear_kernels.cuh"

namespace cnne::cuda {
namespace {

const float kOne = 1.0f, kZero = 0.0f;

int narrow(int64_t v) {
  return library_int(v, "linear");
}

cudaDataType_t cublas_type(DType t) {
  return t == DType::BF16 ? CUDA_R_16BF : t == DType::F16 ? CUDA_R_16F : CUDA_R_32F;
}

// C (m, n) = op(A) op(B) + beta C, column-major, A and B of dtype t, C of
// dtype c_type (t, or F32 from 16-bit inputs); 16-bit inputs accumulate in F32.
void gemm(CudaContext& cu, cublasOperation_t ta, cublasOperation_t tb, int64_t m, int64_t n,
          int64_t k, const void* a, int64_t lda, const void* b, int64_t ldb, const float* beta,
          void* c, int64_t ldc, DType t, DType c_type, const std::string& what) {
  if (t == DType::F32) {
    CNNE_CHECK_AT(
        cublasSgemm(cu.cublas(), ta, tb, narrow(m), narrow(n), narrow(k), &kOne,
                    static_cast<const float*>(a), narrow(lda), static_cast<const float*>(b),
                    narrow(ldb), beta, static_cast<float*>(c), narrow(ldc)),
        what);
    return;
  }
  const cudaDataType_t type = cublas_type(t);
  CNNE_CHECK_AT(cublasGemmEx(cu.cublas(), ta, tb, narrow(m), narrow(n), narrow(k), &kOne, a, type,
                             narrow(lda), b, type, narrow(ldb), beta, c, cublas_type(c_type),
                             narrow(ldc), CUBLAS_COMPUTE_32F, CUBLAS_GEMM_DEFAULT),
                what);
}

void broadcast_rows(CudaContext& cu, const Tensor& y, const Tensor& b, int64_t n, int64_t o) {
  const std::string what = "linear bias " + y.shape.str();
  with_float_type(y.dtype, what, [&](auto tag) {
    using T = typename decltype(tag)::type;
    broadcast_rows_kernel<T>
        <<<blocks_for(n * o), kThreads, 0, cu.stream()>>>(elements<T>(y), b.f32(), n, o);
  });
  CNNE_CHECK_LAUNCH(what);
}

}  // namespace

void linear_forward(Context& ctx, const Tensor& x, const Tensor& w, const Tensor* b,
                    FusedActivation act, const Tensor& y) {
  CudaContext& cu = ctx.cuda();
  const int64_t n = x.shape[0], in = x.shape[1], out = w.shape[0];
  if (is_half(x.dtype)) {
    // y^T (O, N) = w (O, I) . x^T (I, N) + the bias rows (rounded to 16 bits,
    // as PyTorch's addmm under autocast): one rounding of the sum, so a ReLU
    // mask is never flipped by rounding the product first; then ReLU (exact)
    require_dtype(x.dtype, {&w, &y}, "linear forward");
    if (b) broadcast_rows(cu, y, *b, n, out);
    gemm(cu, CUBLAS_OP_T, CUBLAS_OP_N, out, n, in, w.data, in, x.data, in, b ? &kOne : &kZero,
         y.data, out, x.dtype, x.dtype,
         "linear forward x " + x.shape.str() + " w " + w.shape.str());
    if (act == FusedActivation::kRelu)
      add_bias_activation(cu, y, nullptr, out, 1, act, "linear forward");
    return;
  }
  if (act == FusedActivation::kRelu) {
    // y^T (O, N) = w (O, I) . x^T (I, N), then bias and ReLU in one pass
    CNNE_CHECK_AT(
        cublasSgemm(cu.cublas(), CUBLAS_OP_T, CUBLAS_OP_N, narrow(out), narrow(n), narrow(in),
                    &kOne, w.f32(), narrow(in), x.f32(), narrow(in), &kZero, y.f32(), narrow(out)),
        "linear forward x " + x.shape.str() + " w " + w.shape.str());
    add_bias_activation(cu, y, b ? b->f32() : nullptr, out, 1, act, "linear forward");
    return;
  }
  if (b) broadcast_rows(cu, y, *b, n, out);
  // y^T (O, N) (+)= w (O, I) . x^T (I, N)
  CNNE_CHECK_AT(cublasSgemm(cu.cublas(), CUBLAS_OP_T, CUBLAS_OP_N, narrow(out), narrow(n),
                            narrow(in), &kOne, w.f32(), narrow(in), x.f32(), narrow(in),
                            b ? &kOne : &kZero, y.f32(), narrow(out)),
                "linear forward x " + x.shape.str() + " w " + w.shape.str());
}

void linear_backward_data(Context& ctx, const Tensor& w, const Tensor& dy, const Tensor& dx) {
  const int64_t n = dy.shape[0], out = w.shape[0], in = w.shape[1];
  // dx^T (I, N) = w^T (I, O) . dy^T (O, N)
  require_dtype(dy.dtype, {&w, &dx}, "linear backward data");
  gemm(ctx.cuda(), CUBLAS_OP_N, CUBLAS_OP_N, in, n, out, w.data, in, dy.data, out, &kZero, dx.data,
       in, dy.dtype, dy.dtype, "linear backward data dy " + dy.shape.str());
}

void linear_backward_weight(Context& ctx, const Tensor& x, const Tensor& dy, const Tensor& dw) {
  const int64_t n = x.shape[0], in = x.shape[1], out = dy.shape[1];
  // dw^T (I, O) = x^T (I, N) . dy (N, O); from 16-bit x and dy straight into
  // an F32 dw (one rounding, no 16-bit overflow), or all of one dtype
  const std::string what = "linear backward weight x " + x.shape.str();
  require_dtype(x.dtype, {&dy}, what);
  if (dw.dtype != DType::F32) require_dtype(x.dtype, {&dw}, what);
  gemm(ctx.cuda(), CUBLAS_OP_N, CUBLAS_OP_T, in, out, n, x.data, in, dy.data, out, &kZero, dw.data,
       in, x.dtype, dw.dtype, what);
}

void linear_backward_bias(Context& ctx, const Tensor& dy, const Tensor& db) {
  // (N, O) is the conv bias gradient's (N, K, PQ) with PQ = 1
  bias_gradient(ctx.cuda(), dy, db.f32(), dy.shape[1], 1, ctx.workspace(), ctx.workspace_bytes(),
                "linear backward");
}

}  // namespace cnne::cuda
