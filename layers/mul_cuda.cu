// Mul on the GPU (Note [mul geometry] in layers/mul_geometry.h): elementwise
// grid-stride kernels for y and dx; a gate's gradient by one warp per plane
// (NCHW) or one thread per (n, c) (channels-last), in a fixed order
// (deterministic, no atomics). F32, BF16 or F16 tensors of one dtype.
#include "cuda/check.h"
#include "cuda/cuda_context.h"
#include "cuda/element.cuh"
#include "cuda/launch.h"
#include "cuda/plans.h"
#include "engine/ops.h"
#include "layers/mul_kernels.cuh"

namespace cnne::cuda {
namespace {

template <class T>
void launch_mul(Context& ctx, const Tensor& a, const Tensor& s, const Tensor& out,
                const MulGeometry& g) {
  mul_kernel<T><<<blocks_for(g.count), kThreads, 0, ctx.cuda().stream()>>>(
      elements<T>(a), elements<T>(s), elements<T>(out), g);
}

}  // namespace

void mul_forward(Context& ctx, const Tensor& x, const Tensor& s, const Tensor& y) {
  const std::string what = "mul " + x.shape.str() + " * " + s.shape.str();
  const MulGeometry g = mul_geometry(x, s, what);
  require_dtype(x.dtype, {&s, &y}, what);
  if (g.count == 0) return;
  with_float_type(x.dtype, what,
                  [&](auto tag) { launch_mul<typename decltype(tag)::type>(ctx, x, s, y, g); });
  CNNE_CHECK_LAUNCH(what);
}

void mul_backward(Context& ctx, const Tensor& x, const Tensor& s, const Tensor& dy,
                  const Tensor* dx, const Tensor* ds) {
  const std::string what = "mul backward " + x.shape.str() + " * " + s.shape.str();
  const MulGeometry g = mul_geometry(x, s, what);
  require_dtype(x.dtype, {&s, &dy}, what);
  if (dx) require_dtype(x.dtype, {dx}, what);
  if (ds) require_dtype(x.dtype, {ds}, what);
  if (g.count == 0) return;
  with_float_type(x.dtype, what, [&](auto tag) {
    using T = typename decltype(tag)::type;
    cudaStream_t stream = ctx.cuda().stream();
    if (dx) launch_mul<T>(ctx, dy, s, *dx, g);
    if (!ds) return;
    if (!g.gate()) {
      launch_mul<T>(ctx, dy, x, *ds, g);  // one count: ds[i] = dy[i] * x[i]
    } else if (g.channels_last) {
      mul_gate_grad_nhwc_kernel<T>
          <<<static_cast<unsigned>((g.planes + kThreads - 1) / kThreads), kThreads, 0, stream>>>(
              elements<T>(dy), elements<T>(x), elements<T>(*ds), g);
    } else {
      const int64_t warps_per_block = kThreads / 32;
      mul_gate_grad_kernel<T>
          <<<static_cast<unsigned>((g.planes + warps_per_block - 1) / warps_per_block), kThreads, 0,
             stream>>>(elements<T>(dy), elements<T>(x), elements<T>(*ds), g);
    }
  });
  CNNE_CHECK_LAUNCH(what);
}

}  // namespace cnne::cuda
