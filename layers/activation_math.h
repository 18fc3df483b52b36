#pragma once
// The arithmetic of the activations besides ReLU (Activation in
// engine/ops.h), shared by the CPU reference (layers/activation_cpu.cpp) and
// the GPU kernels (layers/activation_kernels.cuh), written as PyTorch's CPU
// kernels compute them so the two agree to the last bit where the math
// library does (the kernel emulation) and to a few ulps on a GPU:
//   tanh        y = tanh(x)                        dx = dy * (1 - y * y)
//   sigmoid     y = 1 / (1 + exp(-x))              dx = dy * (1 - y) * y
//   leaky_relu  y = x > 0 ? x : x * slope          dx = x > 0 ? dy : dy * slope
//   elu         y = x <= 0 ? expm1(x) * alpha : x  dx = x > 0 ? dy : dy * alpha * exp(x)
//   silu        y = x / (1 + exp(-x))              dx = dy * s * (1 + x * (1 - s)),
//                                                  s = sigmoid(x)
//   gelu        y = x * 0.5 * (1 + erf(x / sqrt 2))
//               dx = dy * (cdf + x * exp(-x^2 / 2) / sqrt(2 pi)), cdf = y / x
//   gelu, approximate='tanh': t = tanh(sqrt(2 / pi) * (x + 0.044715 x^3)),
//               y = 0.5 * x * (1 + t)
//               dx = dy * (0.5 (1 + t) + 0.5 x (1 - t^2) sqrt(2 / pi) (1 + 3 * 0.044715 x^2))
//   relu6       y = min(max(x, 0), 6)              dx = 0 < x < 6 ? dy : 0
//   hardsigmoid y = min(max(x + 3, 0), 6) / 6      dx = -3 < x < 3 ? dy * (1 / 6) : 0
//   hardswish   y = x * min(max(x + 3, 0), 6) / 6  dx = x < -3 ? 0
//                                                     : x >= 3 ? dy : dy * (x / 3 + 0.5)
//   mish        y = x * t                          dx = dy * (t + x * s * (1 - t * t)),
//               t = tanh(log1p(exp(x))) (as tanh_softplus below), s = sigmoid(x)
//   selu        y = x <= 0 ? expm1(x) * (alpha * scale) : x * scale
//               dx = x > 0 ? dy * scale : dy * (alpha * scale) * exp(x)
//               (Klambauer et al. 2017's alpha and scale, their product in float as
//               PyTorch's ELU kernel forms it)
// (`param` is the slope or alpha; relu6 is PyTorch's hardtanh(0, 6).) min and
// max keep NaN as std::min/max do, so NaN passes through the clamps. The
// gradients' boundaries are those of PyTorch 1.13's vectorized CPU kernels,
// which every tensor of more than a few elements takes
// (tests/fixtures/layer_parity.safetensors pins them): hardswish's gradient
// is -dy / 2 at x = -3 and dy at x = 3, where its scalar and CUDA kernels
// give 1.5 dy. A NaN input gives NaN out and a NaN gradient, except
// leaky_relu's, whose comparison sends it down the negative branch (dy *
// slope) as PyTorch's does, and relu6's and hardsigmoid's (0: NaN is outside
// their open intervals). (PyTorch's ELU gradient of NaN is NaN in its
// vectorized loop, dy in its scalar one; here always NaN.)
#include <cmath>
#include <cstdint>
#include <type_traits>

#include "engine/host_device.h"
#include "engine/ops.h"

namespace cnne {

constexpr float kSqrtHalf = 0.70710678118654752440f;       // M_SQRT1_2
constexpr float kInvSqrtTwoPi = 0.39894228040143267794f;   // 1 / sqrt(2 pi)
constexpr float kSqrtTwoOverPi = 0.79788456080286535588f;  // sqrt(2 / pi)
constexpr float kGeluKappa = 0.044715f;

// min(max(v, lo), hi) with std::max/std::min's argument order: NaN stays NaN
// (fminf/fmaxf would drop it).
CNNE_HOST_DEVICE inline float clamp_keeping_nan(float v, float lo, float hi) {
  const float above = v < lo ? lo : v;
  return hi < above ? hi : above;
}

// tanh(softplus(x)) = ((1 + e^x)^2 - 1) / ((1 + e^x)^2 + 1) = n / (n + 2),
// n = e^x (e^x + 2): one exp where the textbook form takes exp, log1p and tanh
// (three times the CPU's time); 1 from x > 20 on, where float's
// tanh(log1p(exp(x))) is 1 too. Within a few ulps of PyTorch's form.
CNNE_HOST_DEVICE inline float tanh_softplus(float x) {
  if (x > 20.0f) return 1.0f;
  const float e = expf(x), n = e * (e + 2.0f);
  return n / (n + 2.0f);
}

constexpr float kSeluAlpha = 1.6732632423543772848170429916717f;
constexpr float kSeluScale = 1.0507009873554804934193349852946f;
constexpr float kSeluNegative = kSeluAlpha * kSeluScale;

template <Activation K>
CNNE_HOST_DEVICE inline float activation_value(float x, float param) {
  if constexpr (K == Activation::kTanh) {
    return tanhf(x);
  } else if constexpr (K == Activation::kSigmoid) {
    return 1.0f / (1.0f + expf(-x));
  } else if constexpr (K == Activation::kLeakyRelu) {
    return x > 0.0f ? x : x * param;
  } else if constexpr (K == Activation::kElu) {
    return x <= 0.0f ? expm1f(x) * param : x;
  } else if constexpr (K == Activation::kSilu) {
    return x / (1.0f + expf(-x));
  } else if constexpr (K == Activation::kGelu) {
    return x * 0.5f * (1.0f + erff(x * kSqrtHalf));
  } else if constexpr (K == Activation::kRelu6) {
    return clamp_keeping_nan(x, 0.0f, 6.0f);
  } else if constexpr (K == Activation::kHardsigmoid) {
    return clamp_keeping_nan(x + 3.0f, 0.0f, 6.0f) / 6.0f;
  } else if constexpr (K == Activation::kHardswish) {
    return x * clamp_keeping_nan(x + 3.0f, 0.0f, 6.0f) / 6.0f;
  } else if constexpr (K == Activation::kMish) {
    return x * tanh_softplus(x);
  } else if constexpr (K == Activation::kSelu) {
    return x <= 0.0f ? expm1f(x) * kSeluNegative : x * kSeluScale;
  } else {
    const float inner = kSqrtTwoOverPi * (x + kGeluKappa * (x * x * x));
    return 0.5f * x * (1.0f + tanhf(inner));
  }
}

// dx for input x, output y and incoming gradient dy.
template <Activation K>
CNNE_HOST_DEVICE inline float activation_gradient(float x, float y, float dy, float param) {
  if constexpr (K == Activation::kTanh) {
    return dy * (1.0f - y * y);
  } else if constexpr (K == Activation::kSigmoid) {
    return dy * (1.0f - y) * y;
  } else if constexpr (K == Activation::kLeakyRelu) {
    return x > 0.0f ? dy : dy * param;
  } else if constexpr (K == Activation::kElu) {
    return x > 0.0f ? dy : dy * param * expf(x);
  } else if constexpr (K == Activation::kSilu) {
    const float s = 1.0f / (1.0f + expf(-x));
    return dy * s * (1.0f + x * (1.0f - s));
  } else if constexpr (K == Activation::kGelu) {
    const float cdf = 0.5f * (1.0f + erff(x * kSqrtHalf));
    const float pdf = expf(-0.5f * x * x) * kInvSqrtTwoPi;
    return dy * (cdf + x * pdf);
  } else if constexpr (K == Activation::kRelu6) {
    return (x > 0.0f && x < 6.0f) ? dy : 0.0f;
  } else if constexpr (K == Activation::kHardsigmoid) {
    return (x > -3.0f && x < 3.0f) ? dy * (1.0f / 6.0f) : 0.0f;
  } else if constexpr (K == Activation::kHardswish) {
    if (x < -3.0f) return 0.0f;
    if (x >= 3.0f) return dy;
    return dy * (x / 3.0f + 0.5f);
  } else if constexpr (K == Activation::kMish) {
    if (x > 20.0f) return dy;  // t = 1: the t^2 term vanishes, and s = 1
    const float e = expf(x), n = e * (e + 2.0f);
    const float t = n / (n + 2.0f), s = e / (e + 1.0f);
    return dy * (t + x * s * (1.0f - t * t));
  } else if constexpr (K == Activation::kSelu) {
    return x > 0.0f ? dy * kSeluScale : dy * kSeluNegative * expf(x);
  } else {
    const float x_sq = x * x;
    const float t = tanhf(kSqrtTwoOverPi * (x + kGeluKappa * (x_sq * x)));
    const float left = 0.5f * x, right = 1.0f + t;
    const float inner_derivative = kSqrtTwoOverPi * (1.0f + 3.0f * kGeluKappa * x_sq);
    return dy * (0.5f * right + left * (1.0f - t * t) * inner_derivative);
  }
}

// Calls f(std::integral_constant<Activation, kind>{}): one instantiation per
// activation, so each loop or kernel has its function inlined.
template <class F>
inline void with_activation(Activation kind, F&& f) {
  switch (kind) {
    case Activation::kTanh:
      return f(std::integral_constant<Activation, Activation::kTanh>{});
    case Activation::kSigmoid:
      return f(std::integral_constant<Activation, Activation::kSigmoid>{});
    case Activation::kLeakyRelu:
      return f(std::integral_constant<Activation, Activation::kLeakyRelu>{});
    case Activation::kElu:
      return f(std::integral_constant<Activation, Activation::kElu>{});
    case Activation::kSilu:
      return f(std::integral_constant<Activation, Activation::kSilu>{});
    case Activation::kGelu:
      return f(std::integral_constant<Activation, Activation::kGelu>{});
    case Activation::kGeluTanh:
      return f(std::integral_constant<Activation, Activation::kGeluTanh>{});
    case Activation::kRelu6:
      return f(std::integral_constant<Activation, Activation::kRelu6>{});
    case Activation::kHardsigmoid:
      return f(std::integral_constant<Activation, Activation::kHardsigmoid>{});
    case Activation::kHardswish:
      return f(std::integral_constant<Activation, Activation::kHardswish>{});
    case Activation::kMish:
      return f(std::integral_constant<Activation, Activation::kMish>{});
    case Activation::kSelu:
      return f(std::integral_constant<Activation, Activation::kSelu>{});
  }
}

}  // namespace cnne
