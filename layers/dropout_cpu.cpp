// Dropout and elementwise multiply, CPU reference.
#include "engine/error.h"
#include "engine/ops.h"
#include "layers/dropout_mask.h"

namespace cnne::cpu {

void dropout_forward(Context&, float p, float keep_scale, const uint64_t* step_key, uint64_t salt,
                     bool per_channel, const Tensor& x, const Tensor& mask, const Tensor& y) {
  const uint64_t key = dropout_key(*step_key, salt);
  const int64_t n = x.numel();
  if (per_channel && x.shape.rank() != 4)
    throw Error("dropout " + x.shape.str() + ": per-channel dropout needs (N, C, H, W)");
  const int64_t plane = per_channel ? x.shape[2] * x.shape[3] : 1;  // NCHW here
  float* m = mask.f32();
  for (int64_t i = 0; i < n; ++i)
    m[i] = dropout_uniform(key, dropout_draw_index(i, per_channel, plane, 0, false)) >= p ? 1.0f
                                                                                          : 0.0f;
  const float* in = x.f32();
  float* out = y.f32();
  for (int64_t i = 0; i < n; ++i) out[i] = in[i] * m[i] * keep_scale;
}

void multiply(Context&, const Tensor& a, const Tensor& b, float scale, const Tensor& out) {
  const float *pa = a.f32(), *pb = b.f32();
  float* po = out.f32();
  const int64_t n = out.numel();
  for (int64_t i = 0; i < n; ++i) po[i] = pa[i] * pb[i] * scale;
}

}  // namespace cnne::cpu
