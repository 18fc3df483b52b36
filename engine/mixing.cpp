#include "engine/mixing.h"

#include <algorithm>
#include <cmath>

namespace cnne {
namespace {

constexpr uint64_t kMixSalt = 0xa0761d6478bd642fULL;

// Uniform in (0, 1), 53 bits.
double open_uniform(Rng& rng) {
  return (static_cast<double>(rng.next_u64() >> 11) + 0.5) * (1.0 / 9007199254740992.0);
}

double standard_normal(Rng& rng) {  // Box-Muller
  const double u = open_uniform(rng), v = open_uniform(rng);
  return std::sqrt(-2.0 * std::log(u)) * std::cos(6.283185307179586 * v);
}

double sample_gamma(Rng& rng, double alpha) {
  if (alpha < 1.0)  // Gamma(a) = Gamma(a + 1) * U^(1/a)
    return sample_gamma(rng, alpha + 1.0) * std::pow(open_uniform(rng), 1.0 / alpha);
  const double d = alpha - 1.0 / 3.0, c = 1.0 / std::sqrt(9.0 * d);
  while (true) {
    const double x = standard_normal(rng);
    double v = 1.0 + c * x;
    if (v <= 0.0) continue;
    v = v * v * v;
    const double u = open_uniform(rng);
    if (u < 1.0 - 0.0331 * x * x * x * x) return d * v;
    if (std::log(u) < 0.5 * x * x + d * (1.0 - v + std::log(v))) return d * v;
  }
}

}  // namespace

double sample_beta(Rng& rng, double alpha) {
  const double a = sample_gamma(rng, alpha), b = sample_gamma(rng, alpha);
  return a + b > 0 ? a / (a + b) : 0.5;  // both underflow only for a tiny alpha
}

void draw_mix(const AugmentConfig& augment, uint64_t key, int64_t batch, int64_t count, int height,
              int width, BatchArgs& args) {
  args.count = static_cast<int32_t>(count);
  args.mix_mode = kNoMix;
  args.mix_lambda = 1.0f;
  args.mix_other = 0.0f;
  args.box_y0 = args.box_y1 = args.box_x0 = args.box_x1 = 0;
  if (!augment.mixes()) return;
  Rng rng(key ^ kMixSalt ^ (static_cast<uint64_t>(batch) * 0x9e3779b97f4a7c15ULL));
  bool cutmix = augment.cutmix > 0;
  if (augment.mixup > 0 && augment.cutmix > 0) cutmix = rng.below(2) == 0;
  const double lambda = sample_beta(rng, cutmix ? augment.cutmix : augment.mixup);
  if (!cutmix) {
    args.mix_mode = kMixUp;
    args.mix_lambda = static_cast<float>(lambda);
    args.mix_other = static_cast<float>(1.0 - lambda);
    return;
  }
  const int cy = static_cast<int>(rng.below(static_cast<uint64_t>(height)));
  const int cx = static_cast<int>(rng.below(static_cast<uint64_t>(width)));
  const double r = 0.5 * std::sqrt(1.0 - lambda);
  const int half_h = static_cast<int>(r * height), half_w = static_cast<int>(r * width);
  args.mix_mode = kCutMix;
  args.box_y0 = std::max(cy - half_h, 0);
  args.box_y1 = std::min(cy + half_h, height);
  args.box_x0 = std::max(cx - half_w, 0);
  args.box_x1 = std::min(cx + half_w, width);
  const double area = static_cast<double>(args.box_y1 - args.box_y0) *
                      static_cast<double>(args.box_x1 - args.box_x0);
  args.mix_lambda =
      static_cast<float>(1.0 - area / (static_cast<double>(height) * static_cast<double>(width)));
}

}  // namespace cnne
