// BatchNorm (1d and 2d), CPU reference: statistics and reductions in double.
#include <algorithm>
#include <cmath>
#include <vector>

#include "engine/ops.h"
#include "layers/relu_math.h"

namespace cnne::cpu {
namespace {

struct Dims {
  int64_t n, c, hw;
  explicit Dims(const Tensor& x) : n(x.shape[0]), c(x.shape[1]), hw(x.shape[2] * x.shape[3]) {}
  const float* plane(const Tensor& t, int64_t i, int64_t ch) const {
    return t.f32() + (i * c + ch) * hw;
  }
  float* plane_mut(const Tensor& t, int64_t i, int64_t ch) const {
    return t.f32() + (i * c + ch) * hw;
  }
};

// Every channel is independent (the same bits on any number of threads).
int64_t channel_grain(const Dims& d) {
  return grain_for(d.n * d.hw);
}

}  // namespace

void batchnorm_forward_training(Context& ctx, const Tensor& x, const Tensor& gamma,
                                const Tensor& beta, float momentum, float eps,
                                const Tensor& running_mean, const Tensor& running_var,
                                const Tensor& save_mean, const Tensor& save_invstd,
                                FusedActivation act, const Tensor& y) {
  const Dims d(x);
  const double count = static_cast<double>(d.n * d.hw);
  ctx.parallel(d.c, channel_grain(d), [&](int, int64_t c_begin, int64_t c_end) {
    for (int64_t ch = c_begin; ch < c_end; ++ch) {
      double sum = 0;
      for (int64_t i = 0; i < d.n; ++i) {
        const float* xp = d.plane(x, i, ch);
        for (int64_t k = 0; k < d.hw; ++k) sum += xp[k];
      }
      const double mean = sum / count;
      double sq = 0;
      for (int64_t i = 0; i < d.n; ++i) {
        const float* xp = d.plane(x, i, ch);
        for (int64_t k = 0; k < d.hw; ++k) sq += (xp[k] - mean) * (xp[k] - mean);
      }
      const double var = sq / count;
      const double invstd = 1.0 / std::sqrt(var + eps);
      const auto scale = static_cast<float>(invstd * gamma.f32()[ch]);
      const auto shift = static_cast<float>(beta.f32()[ch] - mean * invstd * gamma.f32()[ch]);
      for (int64_t i = 0; i < d.n; ++i) {
        const float* xp = d.plane(x, i, ch);
        float* yp = d.plane_mut(y, i, ch);
        for (int64_t k = 0; k < d.hw; ++k) yp[k] = xp[k] * scale + shift;
        if (act == FusedActivation::kRelu) relu_in_place(yp, d.hw);
      }
      save_mean.f32()[ch] = static_cast<float>(mean);
      save_invstd.f32()[ch] = static_cast<float>(invstd);
      const double unbiased = count > 1 ? sq / (count - 1) : var;
      running_mean.f32()[ch] =
          static_cast<float>((1.0 - momentum) * running_mean.f32()[ch] + momentum * mean);
      running_var.f32()[ch] =
          static_cast<float>((1.0 - momentum) * running_var.f32()[ch] + momentum * unbiased);
    }
  });
}

void batchnorm_forward_inference(Context& ctx, const Tensor& x, const Tensor& gamma,
                                 const Tensor& beta, const Tensor& running_mean,
                                 const Tensor& running_var, float eps, FusedActivation act,
                                 const Tensor& y) {
  const Dims d(x);
  ctx.parallel(d.c, channel_grain(d), [&](int, int64_t c_begin, int64_t c_end) {
    for (int64_t ch = c_begin; ch < c_end; ++ch) {
      const double invstd = 1.0 / std::sqrt(static_cast<double>(running_var.f32()[ch]) + eps);
      const auto scale = static_cast<float>(invstd * gamma.f32()[ch]);
      const auto shift =
          static_cast<float>(beta.f32()[ch] - running_mean.f32()[ch] * invstd * gamma.f32()[ch]);
      for (int64_t i = 0; i < d.n; ++i) {
        const float* xp = d.plane(x, i, ch);
        float* yp = d.plane_mut(y, i, ch);
        for (int64_t k = 0; k < d.hw; ++k) yp[k] = xp[k] * scale + shift;
        if (act == FusedActivation::kRelu) relu_in_place(yp, d.hw);
      }
    }
  });
}

void batchnorm_backward(Context& ctx, const Tensor& x, const Tensor& dy, const Tensor& gamma,
                        const Tensor& save_mean, const Tensor& save_invstd, float, const Tensor& dx,
                        const Tensor& dgamma, const Tensor& dbeta) {
  const Dims d(x);
  const double count = static_cast<double>(d.n * d.hw);
  ctx.parallel(d.c, channel_grain(d), [&](int, int64_t c_begin, int64_t c_end) {
    for (int64_t ch = c_begin; ch < c_end; ++ch) {
      const double mean = save_mean.f32()[ch], invstd = save_invstd.f32()[ch];
      double sum_dy = 0, sum_dy_xhat = 0;
      for (int64_t i = 0; i < d.n; ++i) {
        const float* xp = d.plane(x, i, ch);
        const float* gp = d.plane(dy, i, ch);
        for (int64_t k = 0; k < d.hw; ++k) {
          sum_dy += gp[k];
          sum_dy_xhat += gp[k] * (xp[k] - mean) * invstd;
        }
      }
      dgamma.f32()[ch] = static_cast<float>(sum_dy_xhat);
      dbeta.f32()[ch] = static_cast<float>(sum_dy);
      // dx = gamma * invstd / M * (M * dy - sum(dy) - xhat * sum(dy * xhat))
      const double k_scale = gamma.f32()[ch] * invstd / count;
      for (int64_t i = 0; i < d.n; ++i) {
        const float* xp = d.plane(x, i, ch);
        const float* gp = d.plane(dy, i, ch);
        float* dxp = d.plane_mut(dx, i, ch);
        for (int64_t k = 0; k < d.hw; ++k) {
          const double xhat = (xp[k] - mean) * invstd;
          dxp[k] = static_cast<float>(k_scale * (count * gp[k] - sum_dy - xhat * sum_dy_xhat));
        }
      }
    }
  });
}

}  // namespace cnne::cpu
