// The activations besides ReLU, CPU reference (layers/activation_math.h):
// elementwise, split over threads in ranges of at least kMinElementsPerPart.
#include <type_traits>

#include "engine/ops.h"
#include "layers/activation_math.h"

namespace cnne::cpu {
namespace {

template <Activation K>
void forward_range(const float* x, float* y, int64_t n, float param) {
  for (int64_t i = 0; i < n; ++i) y[i] = activation_value<K>(x[i], param);
}

template <Activation K>
void backward_range(const float* x, const float* y, const float* dy, float* dx, int64_t n,
                    float param) {
  for (int64_t i = 0; i < n; ++i) dx[i] = activation_gradient<K>(x[i], y[i], dy[i], param);
}

}  // namespace

void activation_forward(Context& ctx, Activation kind, float param, const Tensor& x,
                        const Tensor& y) {
  with_activation(kind, [&](auto k) {
    ctx.parallel(x.numel(), kMinElementsPerPart, [&](int, int64_t begin, int64_t end) {
      forward_range<decltype(k)::value>(x.f32() + begin, y.f32() + begin, end - begin, param);
    });
  });
}

void activation_backward(Context& ctx, Activation kind, float param, const Tensor& x,
                         const Tensor& y, const Tensor& dy, const Tensor& dx) {
  with_activation(kind, [&](auto k) {
    ctx.parallel(x.numel(), kMinElementsPerPart, [&](int, int64_t begin, int64_t end) {
      backward_range<decltype(k)::value>(x.f32() + begin, y.f32() + begin, dy.f32() + begin,
                                         dx.f32() + begin, end - begin, param);
    });
  });
}

}  // namespace cnne::cpu
