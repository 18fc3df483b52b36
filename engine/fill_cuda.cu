// fill, axpby, count_nonfinite, convert and loss scaling on the GPU, for F32, BF16 and F16
// tensors (cuda/element.cuh): loads widen to float, stores round once.
#include "cuda/check.h"
#include "cuda/cuda_context.h"
#include "cuda/element.cuh"
#include "cuda/launch.h"
#include "cuda/plans.h"
#include "engine/channel_copy.h"
#include "engine/fill_kernels.cuh"
#include "engine/layout.h"
#include "engine/loss_scale_rule.h"
#include "engine/ops.h"

namespace cnne::cuda {
namespace {

// One dtype (require_dtype) and one element count for all of `tensors`.
void require_alike(const std::string& what, std::initializer_list<const Tensor*> tensors) {
  const Tensor& first = **tensors.begin();
  require_dtype(first.dtype, tensors, what);
  for (const Tensor* t : tensors)
    if (t->numel() != first.numel())
      throw Error(what + ": tensors of " + std::to_string(first.numel()) + " and " +
                  std::to_string(t->numel()) + " elements");
}

}  // namespace

void unscale_gradients(Context& ctx, const float* scale, const Tensor& grads, const Tensor* count) {
  const int64_t n = grads.numel();
  if (n == 0) return;
  unscale_kernel<<<blocks_for(n), kThreads, 0, ctx.cuda().stream()>>>(
      scale, grads.f32(), n, count ? count->i32() : nullptr);
  CNNE_CHECK_LAUNCH("unscale_gradients " + grads.shape.str());
}

void update_loss_scale(Context& ctx, LossScaleState* state, int32_t growth_interval) {
  update_loss_scale_kernel<<<1, 1, 0, ctx.cuda().stream()>>>(state, growth_interval);
  CNNE_CHECK_LAUNCH("update_loss_scale");
}

void axpby(Context& ctx, float alpha, const Tensor& x, float beta, const Tensor& y) {
  const int64_t n = y.numel();
  if (n == 0) return;
  const std::string what = "axpby " + y.shape.str();
  with_float_type(x.dtype, what, [&](auto xt) {
    using X = typename decltype(xt)::type;
    with_float_type(y.dtype, what, [&](auto yt) {
      using Y = typename decltype(yt)::type;
      axpby_kernel<X, Y><<<blocks_for(n), kThreads, 0, ctx.cuda().stream()>>>(
          alpha, elements<X>(x), beta, elements<Y>(y), n);
    });
  });
  CNNE_CHECK_LAUNCH(what);
}

void add(Context& ctx, const Tensor& a, const Tensor& b, FusedActivation act, const Tensor& y) {
  const int64_t n = y.numel();
  if (n == 0) return;
  const std::string what = "add " + y.shape.str();
  require_alike(what, {&y, &a, &b});
  with_float_type(y.dtype, what, [&](auto tag) {
    using T = typename decltype(tag)::type;
    const auto kernel = act == FusedActivation::kRelu ? add_kernel<T, true> : add_kernel<T, false>;
    kernel<<<blocks_for(n), kThreads, 0, ctx.cuda().stream()>>>(elements<T>(a), elements<T>(b),
                                                                elements<T>(y), n);
  });
  CNNE_CHECK_LAUNCH(what);
}

void copy_channels(Context& ctx, const Tensor& src, int64_t src_first, const Tensor& dst,
                   int64_t dst_first, int64_t channels) {
  const ChannelCopy c = channel_copy(src, src_first, dst, dst_first, channels);
  if (c.rows == 0 || c.row_bytes == 0) return;
  // one 2-D copy in stream order (a memcpy node inside a captured graph)
  CNNE_CHECK_AT(
      cudaMemcpy2DAsync(static_cast<uint8_t*>(dst.data) + c.dst_offset, c.dst_pitch,
                        static_cast<const uint8_t*>(src.data) + c.src_offset, c.src_pitch,
                        c.row_bytes, c.rows, cudaMemcpyDeviceToDevice, ctx.cuda().stream()),
      "copy_channels " + src.shape.str() + " -> " + dst.shape.str());
}

void copy_to_two(Context& ctx, const Tensor& x, const Tensor& y0, const Tensor& y1) {
  const int64_t n = x.numel();
  if (n == 0) return;
  const std::string what = "copy_to_two " + x.shape.str();
  require_alike(what, {&x, &y0, &y1});
  with_float_type(x.dtype, what, [&](auto tag) {
    using T = typename decltype(tag)::type;
    copy_to_two_kernel<T><<<blocks_for(n), kThreads, 0, ctx.cuda().stream()>>>(
        elements<T>(x), elements<T>(y0), elements<T>(y1), n);
  });
  CNNE_CHECK_LAUNCH(what);
}

void count_nonfinite(Context& ctx, const Tensor& t, const Tensor& count) {
  const int64_t n = t.numel();
  if (n == 0) return;
  const std::string what = "count_nonfinite " + t.shape.str();
  with_float_type(t.dtype, what, [&](auto tag) {
    using T = typename decltype(tag)::type;
    count_nonfinite_kernel<T>
        <<<blocks_for(n), kThreads, 0, ctx.cuda().stream()>>>(elements<T>(t), n, count.i32());
  });
  CNNE_CHECK_LAUNCH(what);
}

void fill(Context& ctx, const Tensor& t, float value) {
  const int64_t n = t.numel();
  if (n == 0) return;
  const std::string what = "fill " + t.shape.str();
  with_float_type(t.dtype, what, [&](auto tag) {
    using T = typename decltype(tag)::type;
    fill_kernel<T><<<blocks_for(n), kThreads, 0, ctx.cuda().stream()>>>(elements<T>(t), n, value);
  });
  CNNE_CHECK_LAUNCH(what);
}

void convert(Context& ctx, const Tensor& src, const Tensor& dst) {
  const int64_t n = src.numel();
  const std::string what = "convert " + src.shape.str();
  if (n != dst.numel()) throw Error(what + " into " + dst.shape.str() + " (element counts differ)");
  if (src.channels_last != dst.channels_last && src.shape != dst.shape)
    throw Error(what + " into " + dst.shape.str() + " between layouts (shapes differ)");
  if (n == 0) return;
  with_float_type(src.dtype, what, [&](auto st) {
    using S = typename decltype(st)::type;
    with_float_type(dst.dtype, what, [&](auto dt) {
      using D = typename decltype(dt)::type;
      if (src.channels_last == dst.channels_last)
        convert_kernel<S, D><<<blocks_for(n), kThreads, 0, ctx.cuda().stream()>>>(
            elements<S>(src), elements<D>(dst), n);
      else
        convert_layout_kernel<S, D><<<blocks_for(n), kThreads, 0, ctx.cuda().stream()>>>(
            elements<S>(src), elements<D>(dst), n, src.shape[1], src.shape[2] * src.shape[3],
            dst.channels_last);
    });
  });
  CNNE_CHECK_LAUNCH(what);
}

}  // namespace cnne::cuda
