// Global average pooling on the GPU: one warp per (n, c) plane, the plane
// summed in a fixed order (deterministic). F32, BF16 or F16 tensors.
// Channels-last x (Note [channels last]): one thread per (n, c), consecutive
// threads on consecutive channels so that a warp's reads are coalesced.
#include "cuda/check.h"
#include "cuda/cuda_context.h"
#include "cuda/element.cuh"
#include "cuda/launch.h"
#include "engine/ops.h"
#include "layers/global_avgpool_kernels.cuh"

namespace cnne::cuda {

void global_avgpool_forward(Context& ctx, const Tensor& x, const Tensor& y) {
  const int64_t planes = x.shape[0] * x.shape[1], area = x.shape[2] * x.shape[3];
  const int64_t warps_per_block = kThreads / 32;
  const auto blocks = static_cast<unsigned>((planes + warps_per_block - 1) / warps_per_block);
  const std::string what = "global_avgpool " + x.shape.str();
  if (x.dtype != y.dtype) throw Error(what + ": x and y dtypes differ");
  with_float_type(x.dtype, what, [&](auto tag) {
    using T = typename decltype(tag)::type;
    if (x.channels_last) {
      global_avgpool_nhwc_kernel<T>
          <<<static_cast<unsigned>((planes + kThreads - 1) / kThreads), kThreads, 0,
             ctx.cuda().stream()>>>(elements<T>(x), elements<T>(y), planes, x.shape[1], area);
      return;
    }
    global_avgpool_kernel<T><<<blocks, kThreads, 0, ctx.cuda().stream()>>>(
        elements<T>(x), elements<T>(y), planes, area);
  });
  CNNE_CHECK_LAUNCH(what);
}

void global_avgpool_backward(Context& ctx, const Tensor& dy, const Tensor& dx) {
  const int64_t planes = dx.shape[0] * dx.shape[1], area = dx.shape[2] * dx.shape[3];
  const std::string what = "global_avgpool backward " + dx.shape.str();
  if (dx.dtype != dy.dtype) throw Error(what + ": dy and dx dtypes differ");
  with_float_type(dx.dtype, what, [&](auto tag) {
    using T = typename decltype(tag)::type;
    if (dx.channels_last) {
      global_avgpool_backward_nhwc_kernel<T>
          <<<blocks_for(planes * area), kThreads, 0, ctx.cuda().stream()>>>(
              elements<T>(dy), elements<T>(dx), planes, dx.shape[1], area);
      return;
    }
    global_avgpool_backward_kernel<T>
        <<<blocks_for(planes * area), kThreads, 0, ctx.cuda().stream()>>>(
            elements<T>(dy), elements<T>(dx), planes, area);
  });
  CNNE_CHECK_LAUNCH(what);
}

}  // namespace cnne::cuda
