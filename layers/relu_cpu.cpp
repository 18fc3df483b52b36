// ReLU, CPU reference: y = max(x, 0) (NaN kept); dx = dy where y > 0, else 0.
// Elementwise, so split over threads in ranges of at least kMinElementsPerPart.
#include "engine/ops.h"
#include "layers/relu_math.h"

namespace cnne::cpu {
namespace {

// Plain functions of pointers (not lambdas over captured tensors), so each loop
// vectorizes as a select, after the compiler's own overlap check; a branch on
// the sign of real data would mispredict half the time.
void relu_range(const float* in, float* out, int64_t n) {
  for (int64_t i = 0; i < n; ++i) out[i] = relu_value(in[i]);
}

void relu_backward_range(const float* y, const float* dy, float* dx, int64_t n) {
  for (int64_t i = 0; i < n; ++i) dx[i] = y[i] > 0.0f ? dy[i] : 0.0f;
}

}  // namespace

void relu_forward(Context& ctx, const Tensor& x, const Tensor& y) {
  ctx.parallel(x.numel(), kMinElementsPerPart, [&](int, int64_t begin, int64_t end) {
    relu_range(x.f32() + begin, y.f32() + begin, end - begin);
  });
}

void relu_backward(Context& ctx, const Tensor& y, const Tensor& dy, const Tensor& dx) {
  ctx.parallel(y.numel(), kMinElementsPerPart, [&](int, int64_t begin, int64_t end) {
    relu_backward_range(y.f32() + begin, dy.f32() + begin, dx.f32() + begin, end - begin);
  });
}

}  // namespace cnne::cpu
