// Dropout and elementwise multiply on the GPU; the mask comes from the same
// counter-based hash as the CPU reference (layers/dropout_mask.h). Tensors
// are F32, BF16 or F16 (all of one dtype per call); math in float.
#include "cuda/check.h"
#include "cuda/cuda_context.h"
#include "cuda/element.cuh"
#include "cuda/launch.h"
#include "engine/ops.h"
#include "layers/dropout_kernels.cuh"
#include "layers/dropout_mask.h"

namespace cnne::cuda {
namespace {

void require_same_dtype(const Tensor& a, const Tensor& b, const std::string& what) {
  if (a.dtype != b.dtype)
    throw Error(what + ": tensors are " + dtype_name(a.dtype) + " and " + dtype_name(b.dtype) +
                ", expected one dtype");
}

}  // namespace

void dropout_forward(Context& ctx, float p, float scale, const uint64_t* step_key, uint64_t salt,
                     bool per_channel, const Tensor& x, const Tensor& mask, const Tensor& y) {
  const int64_t n = x.numel();
  if (n == 0) return;
  const std::string what = "dropout " + x.shape.str();
  require_same_dtype(x, mask, what);
  require_same_dtype(x, y, what);
  if (per_channel && x.shape.rank() != 4)
    throw Error(what + ": per-channel dropout needs (N, C, H, W)");
  const int64_t plane = per_channel ? x.shape[2] * x.shape[3] : 1;
  const int64_t channels = per_channel ? x.shape[1] : 1;
  const bool nhwc = per_channel && x.channels_last;  // the draws follow (n, c), not memory order
  with_float_type(x.dtype, what, [&](auto tag) {
    using T = typename decltype(tag)::type;
    dropout_kernel<T><<<blocks_for(n), kThreads, 0, ctx.cuda().stream()>>>(
        p, scale, step_key, salt, per_channel, plane, channels, nhwc, elements<T>(x),
        elements<T>(mask), elements<T>(y), n);
  });
  CNNE_CHECK_LAUNCH(what);
}

void multiply(Context& ctx, const Tensor& a, const Tensor& b, float scale, const Tensor& out) {
  const int64_t n = out.numel();
  if (n == 0) return;
  const std::string what = "multiply " + out.shape.str();
  require_same_dtype(a, out, what);
  require_same_dtype(b, out, what);
  with_float_type(out.dtype, what, [&](auto tag) {
    using T = typename decltype(tag)::type;
    multiply_kernel<T><<<blocks_for(n), kThreads, 0, ctx.cuda().stream()>>>(
        elements<T>(a), elements<T>(b), scale, elements<T>(out), n);
  });
  CNNE_CHECK_LAUNCH(what);
}

}  // namespace cnne::cuda
