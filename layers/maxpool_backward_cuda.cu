// Max pooling backward on the GPU, by gathering: each input element sums the
// gradients of the windows whose maximum it is. The maximum of a window is
// its first in window order (a later NaN wins), the rule of the CPU reference
// and of PyTorch's kernels; cuDNN's deterministic backward picks among tied
// maxima by its own rule, which 16-bit values (few mantissa bits, many ties)
// expose. Each output element is written by one thread: no atomics, the
// same bits in every run.
#include "cuda/check.h"
#include "cuda/cuda_context.h"
#include "cuda/element.cuh"
#include "cuda/launch.h"
#include "cuda/plans.h"
#include "engine/ops.h"
#include "layers/maxpool_backward_kernels.cuh"

namespace cnne::cuda {

void maxpool2d_backward_gather(Context& ctx, const Pool2dParams& p, const Tensor& x,
                               const Tensor& dy, const Tensor& dx) {
  const std::string what = "maxpool2d backward " + dx.shape.str();
  require_dtype(x.dtype, {&dy, &dx}, what);
  if (x.shape[2] * x.shape[3] >= (int64_t(1) << 31))
    throw Error(what + ": an (H, W) plane of 2^31 values or more is too large for the kernel");
  const auto i = [](int64_t v) { return static_cast<int>(v); };
  const PoolGeometry g{i(x.shape[2]), i(x.shape[3]), i(dy.shape[2]), i(dy.shape[3]), p.kernel_h,
                       p.kernel_w,    p.stride_h,    p.stride_w,     p.pad_h,        p.pad_w};
  const int64_t planes = x.shape[0] * x.shape[1];
  with_float_type(x.dtype, what, [&](auto tag) {
    using T = typename decltype(tag)::type;
    maxpool_backward_kernel<T>
        <<<blocks_for(planes * g.h * g.w), kThreads, 0, ctx.cuda().stream()>>>(
            elements<T>(x), elements<T>(dy), elements<T>(dx), planes, g);
  });
  CNNE_CHECK_LAUNCH(what);
}

}  // namespace cnne::cuda
