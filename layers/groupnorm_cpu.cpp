// GroupNorm (and InstanceNorm2d, one channel per group), CPU reference:
// statistics and reductions in double, y = x * scale + shift in float with
// scale and shift rounded from double, as PyTorch's CPU kernel forms them.
// Every (n, group) is independent, and so is every channel's dgamma and
// dbeta: the same bits on any number of threads.
#include <cmath>
#include <vector>

#include "engine/ops.h"
#include "layers/relu_math.h"

namespace cnne::cpu {
namespace {

struct GroupDims {
  int64_t n, c, groups, per_group, hw;
  GroupDims(const Tensor& x, int64_t g)
      : n(x.shape[0]),
        c(x.shape[1]),
        groups(g),
        per_group(x.shape[1] / g),
        hw(x.shape[2] * x.shape[3]) {}
  int64_t values() const { return per_group * hw; }  // in one (n, group)
  // The first element of group g of image i: its channels are consecutive planes.
  int64_t group_offset(int64_t i, int64_t g) const { return (i * c + g * per_group) * hw; }
};

double channel_gamma(const Tensor* gamma, int64_t ch) {
  return gamma ? gamma->f32()[ch] : 1.0;
}
double channel_beta(const Tensor* beta, int64_t ch) {
  return beta ? beta->f32()[ch] : 0.0;
}

}  // namespace

void groupnorm_forward(Context& ctx, int64_t groups, float eps, const Tensor& x,
                       const Tensor* gamma, const Tensor* beta, const Tensor& save_mean,
                       const Tensor& save_rstd, FusedActivation act, const Tensor& y) {
  const GroupDims d(x, groups);
  const double count = static_cast<double>(d.values());
  ctx.parallel(d.n * d.groups, grain_for(d.values()), [&](int, int64_t begin, int64_t end) {
    for (int64_t ng = begin; ng < end; ++ng) {
      const int64_t i = ng / d.groups, g = ng % d.groups;
      const float* xg = x.f32() + d.group_offset(i, g);  // (per_group, HW)
      float* yg = y.f32() + d.group_offset(i, g);
      double sum = 0;
      for (int64_t k = 0; k < d.values(); ++k) sum += xg[k];
      const double mean = sum / count;
      double sq = 0;
      for (int64_t k = 0; k < d.values(); ++k) sq += (xg[k] - mean) * (xg[k] - mean);
      const double rstd = 1.0 / std::sqrt(sq / count + eps);
      for (int64_t j = 0; j < d.per_group; ++j) {
        const int64_t ch = g * d.per_group + j;
        const double gain = rstd * channel_gamma(gamma, ch);
        const auto scale = static_cast<float>(gain);
        const auto shift = static_cast<float>(channel_beta(beta, ch) - mean * gain);
        const float* xp = xg + j * d.hw;
        float* yp = yg + j * d.hw;
        for (int64_t k = 0; k < d.hw; ++k) yp[k] = xp[k] * scale + shift;
        if (act == FusedActivation::kRelu) relu_in_place(yp, d.hw);
      }
      save_mean.f32()[ng] = static_cast<float>(mean);
      save_rstd.f32()[ng] = static_cast<float>(rstd);
    }
  });
}

void groupnorm_backward(Context& ctx, int64_t groups, const Tensor& x, const Tensor& dy,
                        const Tensor* gamma, const Tensor& save_mean, const Tensor& save_rstd,
                        const Tensor& dx, const Tensor* dgamma, const Tensor* dbeta) {
  const GroupDims d(x, groups);
  const double count = static_cast<double>(d.values());
  // One pass over x and dy for each plane's sum(dy) and sum(dy * x), from
  // which the group sums of dx and the channel sums of dgamma and dbeta
  // follow (sum(dy * xhat) = rstd * (sum(dy * x) - mean * sum(dy))); then one
  // pass writing dx = rstd * (g - mean(g) - xhat * mean(g * xhat)) with
  // g = dy * gamma[c], the means over the (n, group)'s values.
  std::vector<double> sum_dy(static_cast<size_t>(d.n * d.c)),  // (N, C)
      sum_dy_x(sum_dy.size());                                 // (N, C)
  ctx.parallel(d.n * d.groups, grain_for(d.values()), [&](int, int64_t begin, int64_t end) {
    for (int64_t ng = begin; ng < end; ++ng) {
      const int64_t i = ng / d.groups, g = ng % d.groups;
      const int64_t offset = d.group_offset(i, g);
      const double mean = save_mean.f32()[ng], rstd = save_rstd.f32()[ng];
      double sum_g = 0, sum_g_xhat = 0;
      for (int64_t j = 0; j < d.per_group; ++j) {
        const float* xp = x.f32() + offset + j * d.hw;
        const float* gp = dy.f32() + offset + j * d.hw;
        double plane_dy = 0, plane_dy_x = 0;
        for (int64_t k = 0; k < d.hw; ++k) {
          plane_dy += gp[k];
          plane_dy_x += static_cast<double>(gp[k]) * xp[k];
        }
        const int64_t ch = g * d.per_group + j;
        sum_dy[static_cast<size_t>(i * d.c + ch)] = plane_dy;
        sum_dy_x[static_cast<size_t>(i * d.c + ch)] = plane_dy_x;
        const double gain = channel_gamma(gamma, ch);
        sum_g += gain * plane_dy;
        sum_g_xhat += gain * rstd * (plane_dy_x - mean * plane_dy);
      }
      const double mean_g = sum_g / count, mean_g_xhat = sum_g_xhat / count;
      for (int64_t j = 0; j < d.per_group; ++j) {
        const double gain = channel_gamma(gamma, g * d.per_group + j);
        const float* xp = x.f32() + offset + j * d.hw;
        const float* gp = dy.f32() + offset + j * d.hw;
        float* dxp = dx.f32() + offset + j * d.hw;
        for (int64_t k = 0; k < d.hw; ++k) {
          const double xhat = (xp[k] - mean) * rstd;
          dxp[k] = static_cast<float>(rstd * (gp[k] * gain - mean_g - xhat * mean_g_xhat));
        }
      }
    }
  });
  if (!dgamma) return;
  for (int64_t ch = 0; ch < d.c; ++ch) {  // N * C values: no threads needed
    const int64_t g = ch / d.per_group;
    double channel_dy = 0, channel_dy_xhat = 0;
    for (int64_t i = 0; i < d.n; ++i) {
      const double mean = save_mean.f32()[i * d.groups + g];
      const double rstd = save_rstd.f32()[i * d.groups + g];
      const auto at = static_cast<size_t>(i * d.c + ch);
      channel_dy += sum_dy[at];
      channel_dy_xhat += rstd * (sum_dy_x[at] - mean * sum_dy[at]);
    }
    dgamma->f32()[ch] = static_cast<float>(channel_dy_xhat);
    dbeta->f32()[ch] = static_cast<float>(channel_dy);
  }
}

}  // namespace cnne::cpu
