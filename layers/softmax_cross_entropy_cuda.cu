// Softmax cross-entropy on the GPU: loss, gradient and the accuracy count in
// one kernel. One block walks the rows and reduces in a fixed order, in
// double, so the result is deterministic and close to the CPU reference.
// Logits and their gradient are F32, BF16 or F16 (one dtype per call).
#include "cuda/check.h"
#include "cuda/cuda_context.h"
#include "cuda/element.cuh"
#include "engine/ops.h"
#include "layers/softmax_cross_entropy_kernels.cuh"

namespace cnne::cuda {

namespace {

void launch_cross_entropy(Context& ctx, const Tensor& logits, const int32_t* labels,
                          const int32_t* labels_b, const float* lambda, float smoothing,
                          const float* grad_scale, const Tensor* dlogits, const Tensor& loss_sum,
                          const Tensor& correct) {
  const int64_t n = logits.shape[0], k = logits.shape[1];
  const std::string what = "softmax_cross_entropy " + logits.shape.str();
  if (dlogits && dlogits->dtype != logits.dtype) throw Error(what + ": dlogits dtype differs");
  with_float_type(logits.dtype, what, [&](auto tag) {
    using T = typename decltype(tag)::type;
    softmax_cross_entropy_kernel<T><<<1, kCeThreads, 0, ctx.cuda().stream()>>>(
        elements<T>(logits), labels, labels_b, lambda, smoothing, grad_scale,
        dlogits ? elements<T>(*dlogits) : nullptr, loss_sum.f32(), correct.i32(), n, k);
  });
  CNNE_CHECK_LAUNCH(what);
}

}  // namespace

void softmax_cross_entropy(Context& ctx, const Tensor& logits, const Tensor& labels,
                           float smoothing, const float* grad_scale, const Tensor* dlogits,
                           const Tensor& loss_sum, const Tensor& correct) {
  launch_cross_entropy(ctx, logits, labels.i32(), nullptr, nullptr, smoothing, grad_scale, dlogits,
                       loss_sum, correct);
}

void mixed_softmax_cross_entropy(Context& ctx, const Tensor& logits, const Tensor& labels,
                                 const float* lambda, float smoothing, const float* grad_scale,
                                 const Tensor* dlogits, const Tensor& loss_sum,
                                 const Tensor& correct) {
  launch_cross_entropy(ctx, logits, labels.i32(), labels.i32() + logits.shape[0], lambda, smoothing,
                       grad_scale, dlogits, loss_sum, correct);
}

void argmax_rows(Context& ctx, const Tensor& logits, const Tensor& predictions) {
  const int64_t n = logits.shape[0], k = logits.shape[1];
  const unsigned blocks = static_cast<unsigned>((n + 255) / 256);
  const std::string what = "argmax_rows " + logits.shape.str();
  with_float_type(logits.dtype, what, [&](auto tag) {
    using T = typename decltype(tag)::type;
    argmax_rows_kernel<T><<<blocks ? blocks : 1, 256, 0, ctx.cuda().stream()>>>(
        elements<T>(logits), predictions.i32(), n, k);
  });
  CNNE_CHECK_LAUNCH(what);
}

}  // namespace cnne::cuda
