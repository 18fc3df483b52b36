// PReLU on the GPU (layers/prelu_geometry.h): one elementwise kernel for y
// and dx, and a block per slope for its gradient (a fixed-order sum, no
// atomics). x, y, dy, dx F32, BF16 or F16 of one dtype; the slopes F32.
#include "cuda/check.h"
#include "cuda/cuda_context.h"
#include "cuda/element.cuh"
#include "cuda/launch.h"
#include "cuda/plans.h"
#include "engine/ops.h"
#include "layers/prelu_kernels.cuh"

namespace cnne::cuda {

void prelu_forward(Context& ctx, const Tensor& x, const Tensor& weight, const Tensor& y) {
  const std::string what = "prelu " + x.shape.str();
  const PreluGeometry g = prelu_geometry(x, weight, what);
  require_dtype(x.dtype, {&y}, what);
  require_dtype(DType::F32, {&weight}, what);
  require_same_layout(x, {&y}, what);
  if (g.count == 0) return;
  with_float_type(x.dtype, what, [&](auto tag) {
    using T = typename decltype(tag)::type;
    prelu_kernel<T><<<blocks_for(g.count), kThreads, 0, ctx.cuda().stream()>>>(
        elements<T>(x), elements<T>(x), weight.f32(), elements<T>(y), g);
  });
  CNNE_CHECK_LAUNCH(what);
}

void prelu_backward(Context& ctx, const Tensor& x, const Tensor& weight, const Tensor& dy,
                    const Tensor* dx, const Tensor& dweight) {
  const std::string what = "prelu backward " + x.shape.str();
  const PreluGeometry g = prelu_geometry(x, weight, what);
  require_dtype(x.dtype, {&dy}, what);
  require_dtype(DType::F32, {&weight, &dweight}, what);
  require_same_layout(x, {&dy}, what);
  if (dx) {
    require_dtype(x.dtype, {dx}, what);
    require_same_layout(x, {dx}, what);
  }
  with_float_type(x.dtype, what, [&](auto tag) {
    using T = typename decltype(tag)::type;
    cudaStream_t stream = ctx.cuda().stream();
    if (dx && g.count > 0)
      prelu_kernel<T><<<blocks_for(g.count), kThreads, 0, stream>>>(
          elements<T>(x), elements<T>(dy), weight.f32(), elements<T>(*dx), g);
    prelu_weight_grad_kernel<T><<<static_cast<unsigned>(g.weights), kPreluThreads, 0, stream>>>(
        elements<T>(x), elements<T>(dy), dweight.f32(), g);
  });
  CNNE_CHECK_LAUNCH(what);
}

}  // namespace cnne::cuda
