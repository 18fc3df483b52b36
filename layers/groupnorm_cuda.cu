// GroupNorm on the GPU: our own kernels (cuDNN's legacy API has no group
// normalization), layers/groupnorm_kernels.cuh. The forward is one kernel, a
// block per (n, group); the backward two: dx a block per (n, group), dgamma
// and dbeta a block per channel (NCHW) or per tile of 32 channels
// (channels-last). No workspace and no atomics: bit-reproducible. Under
// mixed precision x, y, dy and dx are BF16/F16 (loaded as float, rounded
// once on store); gamma, beta, the statistics and the gradients stay F32.
#include <initializer_list>
#include <string>

#include "cuda/check.h"
#include "cuda/cuda_context.h"
#include "cuda/element.cuh"
#include "cuda/plans.h"
#include "engine/error.h"
#include "engine/ops.h"
#include "layers/groupnorm_kernels.cuh"

namespace cnne::cuda {
namespace {

GroupNormDims dims_of(const Tensor& x, int64_t groups, const std::string& what) {
  const int64_t n = x.shape[0], c = x.shape[1], hw = x.shape[2] * x.shape[3];
  if (groups < 1 || c % groups != 0)
    throw Error(what + ": " + std::to_string(groups) + " groups do not divide " +
                std::to_string(c) + " channels");
  if (n * hw >= (int64_t(1) << 31) || (c / groups) * hw >= (int64_t(1) << 31) ||
      n * groups >= (int64_t(1) << 31))
    throw Error(what +
                ": too large for the group norm kernels (N*H*W, (C/G)*H*W and N*G must be "
                "< 2^31)");
  return GroupNormDims{static_cast<uint32_t>(c), static_cast<uint32_t>(groups),
                       static_cast<uint32_t>(c / groups), static_cast<uint32_t>(hw)};
}

const float* data_or_null(const Tensor* t) {
  return t ? t->f32() : nullptr;
}

}  // namespace

void groupnorm_forward(Context& ctx, int64_t groups, float eps, const Tensor& x,
                       const Tensor* gamma, const Tensor* beta, const Tensor& save_mean,
                       const Tensor& save_rstd, FusedActivation act, const Tensor& y) {
  const std::string what = "groupnorm forward " + x.shape.str();
  require_dtype(x.dtype, {&y}, what);
  const GroupNormDims d = dims_of(x, groups, what);
  const bool nhwc = require_same_layout(x, {&y}, what);
  const auto blocks = static_cast<unsigned>(x.shape[0] * groups);
  with_float_type(x.dtype, what, [&](auto tag) {
    using T = typename decltype(tag)::type;
    const bool relu = act == FusedActivation::kRelu;
    const auto kernel =
        nhwc ? (relu ? gn_forward_kernel<true, T, true> : gn_forward_kernel<true, T, false>)
             : (relu ? gn_forward_kernel<false, T, true> : gn_forward_kernel<false, T, false>);
    kernel<<<blocks, kGnThreads, 0, ctx.cuda().stream()>>>(
        elements<T>(x), elements<T>(y), data_or_null(gamma), data_or_null(beta), save_mean.f32(),
        save_rstd.f32(), eps, d);
    CNNE_CHECK_LAUNCH(what);
  });
}

void groupnorm_backward(Context& ctx, int64_t groups, const Tensor& x, const Tensor& dy,
                        const Tensor* gamma, const Tensor& save_mean, const Tensor& save_rstd,
                        const Tensor& dx, const Tensor* dgamma, const Tensor* dbeta) {
  const std::string what = "groupnorm backward " + x.shape.str();
  require_dtype(x.dtype, {&dy, &dx}, what);
  const GroupNormDims d = dims_of(x, groups, what);
  const bool nhwc = require_same_layout(x, {&dy, &dx}, what);
  const cudaStream_t stream = ctx.cuda().stream();
  const auto blocks = static_cast<unsigned>(x.shape[0] * groups);
  with_float_type(x.dtype, what, [&](auto tag) {
    using T = typename decltype(tag)::type;
    const auto kernel = nhwc ? gn_backward_dx_kernel<true, T> : gn_backward_dx_kernel<false, T>;
    kernel<<<blocks, kGnThreads, 0, stream>>>(elements<T>(x), elements<T>(dy), elements<T>(dx),
                                              data_or_null(gamma), save_mean.f32(), save_rstd.f32(),
                                              d);
    CNNE_CHECK_LAUNCH(what);
    if (!dgamma) return;
    const BnDims per_channel{d.c, d.hw, static_cast<uint32_t>(x.shape[0]) * d.hw, 1};
    auto launch = [&](auto walk) {
      using Walk = decltype(walk);
      gn_param_grads_kernel<Walk, T><<<Walk::grid(per_channel), kBnThreads, 0, stream>>>(
          elements<T>(x), elements<T>(dy), save_mean.f32(), save_rstd.f32(), dgamma->f32(),
          dbeta->f32(), per_channel, d.groups, d.per_group);
      CNNE_CHECK_LAUNCH(what);
    };
    if (nhwc)
      launch(NhwcWalk{});
    else
      launch(NchwWalk{});
  });
}

}  // namespace cnne::cuda
