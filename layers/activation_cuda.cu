// The activations besides ReLU on the GPU: one elementwise kernel per
// function and dtype (F32, BF16 or F16, all tensors of one dtype; math in
// float), layers/activation_kernels.cuh. cuDNN's activation descriptors cover
// only some of them (no LeakyReLU, no GELU), so all share these kernels and
// the CPU reference's arithmetic (layers/activation_math.h).
#include "cuda/check.h"
#include "cuda/cuda_context.h"
#include "cuda/element.cuh"
#include "cuda/launch.h"
#include "engine/ops.h"
#include "layers/activation_kernels.cuh"

namespace cnne::cuda {
namespace {

void require_dtype(const Tensor& t, DType dtype, const std::string& what) {
  if (t.dtype != dtype)
    throw Error(what + ": tensors are " + dtype_name(dtype) + " and " + dtype_name(t.dtype) +
                ", expected one dtype");
}

}  // namespace

void activation_forward(Context& ctx, Activation kind, float param, const Tensor& x,
                        const Tensor& y) {
  const int64_t n = x.numel();
  if (n == 0) return;
  const std::string what = "activation forward " + x.shape.str();
  require_dtype(y, x.dtype, what);
  with_float_type(x.dtype, what, [&](auto tag) {
    using T = typename decltype(tag)::type;
    with_activation(kind, [&](auto k) {
      activation_forward_kernel<T, decltype(k)::value>
          <<<blocks_for(n), kThreads, 0, ctx.cuda().stream()>>>(elements<T>(x), elements<T>(y), n,
                                                                param);
    });
  });
  CNNE_CHECK_LAUNCH(what);
}

void activation_backward(Context& ctx, Activation kind, float param, const Tensor& x,
                         const Tensor& y, const Tensor& dy, const Tensor& dx) {
  const int64_t n = x.numel();
  if (n == 0) return;
  const std::string what = "activation backward " + x.shape.str();
  for (const Tensor* t : {&y, &dy, &dx}) require_dtype(*t, x.dtype, what);
  with_float_type(x.dtype, what, [&](auto tag) {
    using T = typename decltype(tag)::type;
    with_activation(kind, [&](auto k) {
      activation_backward_kernel<T, decltype(k)::value>
          <<<blocks_for(n), kThreads, 0, ctx.cuda().stream()>>>(
              elements<T>(x), elements<T>(y), elements<T>(dy), elements<T>(dx), n, param);
    });
  });
  CNNE_CHECK_LAUNCH(what);
}

}  // namespace cnne::cuda
