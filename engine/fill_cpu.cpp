// fill, axpby, count_nonfinite, convert and loss scaling, CPU reference.
#include <cstring>
#include <string>
#include <vector>

#include "engine/channel_copy.h"
#include "engine/error.h"
#include "engine/half.h"
#include "engine/layout.h"
#include "engine/loss_scale_rule.h"
#include "engine/ops.h"
#include "layers/relu_math.h"

namespace cnne {

void convert_tensor_host(const Tensor& src, const Tensor& dst) {
  if (src.numel() != dst.numel())
    throw Error("convert: " + src.shape.str() + " into " + dst.shape.str() +
                " (element counts differ)");
  if (src.channels_last == dst.channels_last) {
    convert_host(src.data, src.dtype, dst.data, dst.dtype, static_cast<size_t>(src.numel()));
    return;
  }
  // Between layouts (Note [channels last]): through F32, one element at a time.
  if (src.shape != dst.shape)
    throw Error("convert: " + src.shape.str() + " into " + dst.shape.str() +
                " between layouts (shapes differ)");
  const int64_t n = src.numel(), c = src.shape[1], hw = src.shape[2] * src.shape[3];
  std::vector<float> from(static_cast<size_t>(n)), to(static_cast<size_t>(n));  // (numel) F32
  convert_host(src.data, src.dtype, from.data(), DType::F32, from.size());
  for (int64_t i = 0; i < n; ++i)
    to[static_cast<size_t>(i)] = from[static_cast<size_t>(
        dst.channels_last ? nchw_of_nhwc(i, c, hw) : nhwc_of_nchw(i, c, hw))];
  convert_host(to.data(), DType::F32, dst.data, dst.dtype, to.size());
}

}  // namespace cnne

namespace cnne::cpu {

void fill(Context&, const Tensor& t, float value) {
  float* p = t.f32();
  const int64_t n = t.numel();
  for (int64_t i = 0; i < n; ++i) p[i] = value;
}

void axpby(Context&, float alpha, const Tensor& x, float beta, const Tensor& y) {
  const float* a = x.f32();
  float* b = y.f32();
  const int64_t n = y.numel();
  if (beta == 0.0f) {
    for (int64_t i = 0; i < n; ++i) b[i] = alpha * a[i];
    return;
  }
  for (int64_t i = 0; i < n; ++i) b[i] = alpha * a[i] + beta * b[i];
}

void add(Context&, const Tensor& a, const Tensor& b, FusedActivation act, const Tensor& y) {
  const float *pa = a.f32(), *pb = b.f32();
  float* py = y.f32();
  const int64_t n = y.numel();
  if (act == FusedActivation::kRelu)
    for (int64_t i = 0; i < n; ++i) py[i] = relu_value(pa[i] + pb[i]);
  else
    for (int64_t i = 0; i < n; ++i) py[i] = pa[i] + pb[i];
}

void copy_channels(Context&, const Tensor& src, int64_t src_first, const Tensor& dst,
                   int64_t dst_first, int64_t channels) {
  const ChannelCopy c = channel_copy(src, src_first, dst, dst_first, channels);
  const auto* from = static_cast<const uint8_t*>(src.data) + c.src_offset;
  auto* to = static_cast<uint8_t*>(dst.data) + c.dst_offset;
  for (size_t row = 0; row < c.rows; ++row)
    std::memcpy(to + row * c.dst_pitch, from + row * c.src_pitch, c.row_bytes);
}

void copy_to_two(Context&, const Tensor& x, const Tensor& y0, const Tensor& y1) {
  const float* px = x.f32();
  float *p0 = y0.f32(), *p1 = y1.f32();
  for (int64_t i = 0, n = x.numel(); i < n; ++i) p0[i] = p1[i] = px[i];
}

void count_nonfinite(Context&, const Tensor& t, const Tensor& count) {
  const float* p = t.f32();
  const int64_t n = t.numel();
  int32_t bad = 0;
  for (int64_t i = 0; i < n; ++i) bad += !(p[i] - p[i] == 0.0f);  // NaN for NaN and Inf
  count.i32()[0] += bad;
}

void unscale_gradients(Context& ctx, const float* scale, const Tensor& grads, const Tensor* count) {
  axpby(ctx, 1.0f / *scale, grads, 0.0f, grads);
  if (count) count_nonfinite(ctx, grads, *count);
}

void update_loss_scale(Context&, LossScaleState* s, int32_t growth_interval) {
  advance_loss_scale(*s, growth_interval);
}

void convert(Context&, const Tensor& src, const Tensor& dst) {
  convert_tensor_host(src, dst);
}

}  // namespace cnne::cpu
