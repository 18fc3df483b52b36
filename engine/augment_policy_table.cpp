#include "engine/augment_policy_table.h"

#include <cmath>

#include "engine/error.h"

namespace cnne {
namespace {

// clang-format off
// torchvision's AutoAugmentPolicy.CIFAR10
constexpr PolicyStep kCifar10Policy[kAutoAugmentSubPolicies * 2] = {
    {kPolicyInvert, 0.1f, -1}, {kPolicyContrast, 0.2f, 6},
    {kPolicyRotate, 0.7f, 2}, {kPolicyTranslateX, 0.3f, 9},
    {kPolicySharpness, 0.8f, 1}, {kPolicySharpness, 0.9f, 3},
    {kPolicyShearY, 0.5f, 8}, {kPolicyTranslateY, 0.7f, 9},
    {kPolicyAutoContrast, 0.5f, -1}, {kPolicyEqualize, 0.9f, -1},
    {kPolicyShearY, 0.2f, 7}, {kPolicyPosterize, 0.3f, 7},
    {kPolicyColor, 0.4f, 3}, {kPolicyBrightness, 0.6f, 7},
    {kPolicySharpness, 0.3f, 9}, {kPolicyBrightness, 0.7f, 9},
    {kPolicyEqualize, 0.6f, -1}, {kPolicyEqualize, 0.5f, -1},
    {kPolicyContrast, 0.6f, 7}, {kPolicySharpness, 0.6f, 5},
    {kPolicyColor, 0.7f, 7}, {kPolicyTranslateX, 0.5f, 8},
    {kPolicyEqualize, 0.3f, -1}, {kPolicyAutoContrast, 0.4f, -1},
    {kPolicyTranslateY, 0.4f, 3}, {kPolicySharpness, 0.2f, 6},
    {kPolicyBrightness, 0.9f, 6}, {kPolicyColor, 0.2f, 8},
    {kPolicySolarize, 0.5f, 2}, {kPolicyInvert, 0.0f, -1},
    {kPolicyEqualize, 0.2f, -1}, {kPolicyAutoContrast, 0.6f, -1},
    {kPolicyEqualize, 0.2f, -1}, {kPolicyEqualize, 0.6f, -1},
    {kPolicyColor, 0.9f, 9}, {kPolicyEqualize, 0.6f, -1},
    {kPolicyAutoContrast, 0.8f, -1}, {kPolicySolarize, 0.2f, 8},
    {kPolicyBrightness, 0.1f, 3}, {kPolicyColor, 0.7f, 0},
    {kPolicySolarize, 0.4f, 5}, {kPolicyAutoContrast, 0.9f, -1},
    {kPolicyTranslateY, 0.9f, 9}, {kPolicyTranslateY, 0.7f, 9},
    {kPolicyAutoContrast, 0.9f, -1}, {kPolicySolarize, 0.8f, 3},
    {kPolicyEqualize, 0.8f, -1}, {kPolicyInvert, 0.1f, -1},
    {kPolicyTranslateY, 0.7f, 9}, {kPolicyAutoContrast, 0.9f, -1},
};
// torchvision's AutoAugmentPolicy.IMAGENET
constexpr PolicyStep kImagenetPolicy[kAutoAugmentSubPolicies * 2] = {
    {kPolicyPosterize, 0.4f, 8}, {kPolicyRotate, 0.6f, 9},
    {kPolicySolarize, 0.6f, 5}, {kPolicyAutoContrast, 0.6f, -1},
    {kPolicyEqualize, 0.8f, -1}, {kPolicyEqualize, 0.6f, -1},
    {kPolicyPosterize, 0.6f, 7}, {kPolicyPosterize, 0.6f, 6},
    {kPolicyEqualize, 0.4f, -1}, {kPolicySolarize, 0.2f, 4},
    {kPolicyEqualize, 0.4f, -1}, {kPolicyRotate, 0.8f, 8},
    {kPolicySolarize, 0.6f, 3}, {kPolicyEqualize, 0.6f, -1},
    {kPolicyPosterize, 0.8f, 5}, {kPolicyEqualize, 1.0f, -1},
    {kPolicyRotate, 0.2f, 3}, {kPolicySolarize, 0.6f, 8},
    {kPolicyEqualize, 0.6f, -1}, {kPolicyPosterize, 0.4f, 6},
    {kPolicyRotate, 0.8f, 8}, {kPolicyColor, 0.4f, 0},
    {kPolicyRotate, 0.4f, 9}, {kPolicyEqualize, 0.6f, -1},
    {kPolicyEqualize, 0.0f, -1}, {kPolicyEqualize, 0.8f, -1},
    {kPolicyInvert, 0.6f, -1}, {kPolicyEqualize, 1.0f, -1},
    {kPolicyColor, 0.6f, 4}, {kPolicyContrast, 1.0f, 8},
    {kPolicyRotate, 0.8f, 8}, {kPolicyColor, 1.0f, 2},
    {kPolicyColor, 0.8f, 8}, {kPolicySolarize, 0.8f, 7},
    {kPolicySharpness, 0.4f, 7}, {kPolicyInvert, 0.6f, -1},
    {kPolicyShearX, 0.6f, 5}, {kPolicyEqualize, 1.0f, -1},
    {kPolicyColor, 0.4f, 0}, {kPolicyEqualize, 0.6f, -1},
    {kPolicyEqualize, 0.4f, -1}, {kPolicySolarize, 0.2f, 4},
    {kPolicySolarize, 0.6f, 5}, {kPolicyAutoContrast, 0.6f, -1},
    {kPolicyInvert, 0.6f, -1}, {kPolicyEqualize, 1.0f, -1},
    {kPolicyColor, 0.6f, 4}, {kPolicyContrast, 1.0f, 8},
    {kPolicyEqualize, 0.8f, -1}, {kPolicyEqualize, 0.6f, -1},
};
// torchvision's AutoAugmentPolicy.SVHN
constexpr PolicyStep kSvhnPolicy[kAutoAugmentSubPolicies * 2] = {
    {kPolicyShearX, 0.9f, 4}, {kPolicyInvert, 0.2f, -1},
    {kPolicyShearY, 0.9f, 8}, {kPolicyInvert, 0.7f, -1},
    {kPolicyEqualize, 0.6f, -1}, {kPolicySolarize, 0.6f, 6},
    {kPolicyInvert, 0.9f, -1}, {kPolicyEqualize, 0.6f, -1},
    {kPolicyEqualize, 0.6f, -1}, {kPolicyRotate, 0.9f, 3},
    {kPolicyShearX, 0.9f, 4}, {kPolicyAutoContrast, 0.8f, -1},
    {kPolicyShearY, 0.9f, 8}, {kPolicyInvert, 0.4f, -1},
    {kPolicyShearY, 0.9f, 5}, {kPolicySolarize, 0.2f, 6},
    {kPolicyInvert, 0.9f, -1}, {kPolicyAutoContrast, 0.8f, -1},
    {kPolicyEqualize, 0.6f, -1}, {kPolicyRotate, 0.9f, 3},
    {kPolicyShearX, 0.9f, 4}, {kPolicySolarize, 0.3f, 3},
    {kPolicyShearY, 0.8f, 8}, {kPolicyInvert, 0.7f, -1},
    {kPolicyEqualize, 0.9f, -1}, {kPolicyTranslateY, 0.6f, 6},
    {kPolicyInvert, 0.9f, -1}, {kPolicyEqualize, 0.6f, -1},
    {kPolicyContrast, 0.3f, 3}, {kPolicyRotate, 0.8f, 4},
    {kPolicyInvert, 0.8f, -1}, {kPolicyTranslateY, 0.0f, 2},
    {kPolicyShearY, 0.7f, 6}, {kPolicySolarize, 0.4f, 8},
    {kPolicyInvert, 0.6f, -1}, {kPolicyRotate, 0.8f, 4},
    {kPolicyShearY, 0.3f, 7}, {kPolicyTranslateX, 0.9f, 3},
    {kPolicyShearX, 0.1f, 6}, {kPolicyInvert, 0.6f, -1},
    {kPolicySolarize, 0.7f, 2}, {kPolicyTranslateY, 0.6f, 7},
    {kPolicyShearY, 0.8f, 4}, {kPolicyInvert, 0.8f, -1},
    {kPolicyShearX, 0.7f, 9}, {kPolicyTranslateY, 0.8f, 3},
    {kPolicyShearY, 0.8f, 5}, {kPolicyAutoContrast, 0.7f, -1},
    {kPolicyShearX, 0.7f, 2}, {kPolicyInvert, 0.1f, -1},
};
// clang-format on

constexpr double kPi = 3.14159265358979323846;

// torch.linspace(start, end, steps) in float32: start + step * i for the
// first half, end - step * (steps - 1 - i) for the second.
std::vector<float> linspace(float start, float end, int steps) {
  std::vector<float> out(static_cast<size_t>(steps));
  if (steps == 1) {
    out[0] = start;
    return out;
  }
  const float step = (end - start) / static_cast<float>(steps - 1);
  for (int i = 0; i < steps; ++i)
    out[static_cast<size_t>(i)] = i < steps / 2 ? start + step * static_cast<float>(i)
                                                : end - step * static_cast<float>(steps - 1 - i);
  return out;
}

// 8 - (torch.arange(bins) / ((bins - 1) / divisor)).round().int()
std::vector<float> posterize_bits(int bins, double divisor) {
  const auto d = static_cast<float>((bins - 1) / divisor);
  std::vector<float> out(static_cast<size_t>(bins));
  for (int i = 0; i < bins; ++i)
    out[static_cast<size_t>(i)] = 8.0f - std::nearbyint(static_cast<float>(i) / d);
  return out;
}

// torchvision.transforms.functional._get_inverse_affine_matrix, in double.
void inverse_affine(double center_x, double center_y, double angle, double translate_x,
                    double translate_y, double shear_x, double shear_y, double matrix[6]) {
  const double rot = angle * (kPi / 180.0);
  const double sx = shear_x * (kPi / 180.0);
  const double sy = shear_y * (kPi / 180.0);
  const double a = std::cos(rot - sy) / std::cos(sy);
  const double b = -std::cos(rot - sy) * std::tan(sx) / std::cos(sy) - std::sin(rot);
  const double c = std::sin(rot - sy) / std::cos(sy);
  const double d = -std::sin(rot - sy) * std::tan(sx) / std::cos(sy) + std::cos(rot);
  const double m[6] = {d, -b, 0.0, -c, a, 0.0};  // scale 1
  for (int i = 0; i < 6; ++i) matrix[i] = m[i];
  matrix[2] += matrix[0] * (-center_x - translate_x) + matrix[1] * (-center_y - translate_y);
  matrix[5] += matrix[3] * (-center_x - translate_x) + matrix[4] * (-center_y - translate_y);
  matrix[2] += center_x;
  matrix[5] += center_y;
}

}  // namespace

std::string policy_kind_name(int32_t kind) {
  switch (kind) {
    case kTrivialAugmentWide:
      return "trivial_augment_wide";
    case kRandAugment:
      return "rand_augment";
    case kAutoAugment:
      return "auto_augment";
    default:
      return "none";
  }
}

int32_t policy_kind_from_name(const std::string& name) {
  for (int32_t kind : {kTrivialAugmentWide, kRandAugment, kAutoAugment})
    if (policy_kind_name(kind) == name) return kind;
  return kNoPolicy;
}

std::string policy_op_name(int op) {
  static const char* const names[kPolicyOpCount] = {
      "Identity",  "ShearX",     "ShearY",       "TranslateX", "TranslateY",
      "Rotate",    "Brightness", "Color",        "Contrast",   "Sharpness",
      "Posterize", "Solarize",   "AutoContrast", "Equalize",   "Invert"};
  return op >= 0 && op < kPolicyOpCount ? names[op] : "?";
}

std::string PolicyConfig::describe() const {
  switch (kind) {
    case kTrivialAugmentWide:
      return "TrivialAugmentWide(num_magnitude_bins=" + std::to_string(num_magnitude_bins) + ")";
    case kRandAugment:
      return "RandAugment(num_ops=" + std::to_string(num_ops) +
             ", magnitude=" + std::to_string(magnitude) +
             ", num_magnitude_bins=" + std::to_string(num_magnitude_bins) + ")";
    case kAutoAugment:
      return "AutoAugment(" + auto_policy + ")";
    default:
      return "none";
  }
}

std::vector<float> policy_magnitudes(int32_t kind, int op, int bins, int height, int width) {
  const bool wide = kind == kTrivialAugmentWide;
  switch (op) {
    case kPolicyShearX:
    case kPolicyShearY:
      return linspace(0.0f, wide ? 0.99f : 0.3f, bins);
    case kPolicyTranslateX:
      return linspace(0.0f, wide ? 32.0f : static_cast<float>(150.0 / 331.0 * width), bins);
    case kPolicyTranslateY:
      return linspace(0.0f, wide ? 32.0f : static_cast<float>(150.0 / 331.0 * height), bins);
    case kPolicyRotate:
      return linspace(0.0f, wide ? 135.0f : 30.0f, bins);
    case kPolicyBrightness:
    case kPolicyColor:
    case kPolicyContrast:
    case kPolicySharpness:
      return linspace(0.0f, wide ? 0.99f : 0.9f, bins);
    case kPolicyPosterize:
      return posterize_bits(bins, wide ? 6.0 : 4.0);
    case kPolicySolarize:
      return linspace(255.0f, 0.0f, bins);
    default:
      return {0.0f};
  }
}

PolicyOpParams make_policy_op(int op, double magnitude, int height, int width) {
  PolicyOpParams o;
  o.op = op;
  double matrix[6] = {1, 0, 0, 0, 1, 0};
  const double degrees = 180.0 / kPi;  // math.degrees
  switch (op) {
    case kPolicyShearX:  // F.affine(shear=[degrees(atan(m)), 0], center=[0, 0])
      inverse_affine(-0.5 * width, -0.5 * height, 0.0, 0.0, 0.0, std::atan(magnitude) * degrees,
                     0.0, matrix);
      break;
    case kPolicyShearY:
      inverse_affine(-0.5 * width, -0.5 * height, 0.0, 0.0, 0.0, 0.0,
                     std::atan(magnitude) * degrees, matrix);
      break;
    case kPolicyTranslateX:  // translate=[int(m), 0], the image's centre
      inverse_affine(0.0, 0.0, 0.0, std::trunc(magnitude), 0.0, 0.0, 0.0, matrix);
      break;
    case kPolicyTranslateY:
      inverse_affine(0.0, 0.0, 0.0, 0.0, std::trunc(magnitude), 0.0, 0.0, matrix);
      break;
    case kPolicyRotate:  // F.rotate(m): the inverse of a rotation by -m about the centre
      inverse_affine(0.0, 0.0, -magnitude, 0.0, 0.0, 0.0, 0.0, matrix);
      break;
    case kPolicyBrightness:
    case kPolicyColor:
    case kPolicyContrast:
    case kPolicySharpness: {
      const double ratio = 1.0 + magnitude;
      o.m[0] = static_cast<float>(ratio);
      o.m[1] = static_cast<float>(1.0 - ratio);
      return o;
    }
    case kPolicyPosterize: {
      const int bits = static_cast<int>(magnitude);
      o.keep_mask = bits >= 8 ? 0xff : (0xff << (8 - (bits < 0 ? 0 : bits))) & 0xff;
      return o;
    }
    case kPolicySolarize:
      o.m[0] = static_cast<float>(magnitude);
      return o;
    default:
      return o;
  }
  // _gen_affine_grid: theta (float32) divided by [0.5 * w, 0.5 * h] per output coordinate
  const auto half_w = static_cast<float>(0.5 * width), half_h = static_cast<float>(0.5 * height);
  for (int i = 0; i < 3; ++i) {
    o.m[i] = static_cast<float>(matrix[i]) / half_w;
    o.m[3 + i] = static_cast<float>(matrix[3 + i]) / half_h;
  }
  return o;
}

PolicyTable make_policy_table(const PolicyConfig& config, int height, int width) {
  PolicyTable t;
  const int bins = config.kind == kAutoAugment ? 10 : static_cast<int>(config.num_magnitude_bins);
  t.source.kind = config.kind;
  t.source.num_ops = static_cast<int32_t>(config.num_ops);
  t.source.magnitude = static_cast<int32_t>(config.magnitude);
  t.source.bins = bins;
  t.ops.resize(static_cast<size_t>(kPolicyOpCount) * bins * 2);
  for (int op = 0; op < kPolicyOpCount; ++op) {
    const std::vector<float> magnitudes = policy_magnitudes(config.kind, op, bins, height, width);
    for (int bin = 0; bin < bins; ++bin)
      for (int negative = 0; negative < 2; ++negative) {
        const double m = magnitudes[static_cast<size_t>(bin) % magnitudes.size()];
        t.ops[static_cast<size_t>((op * bins + bin) * 2 + negative)] =
            make_policy_op(op, negative ? -m : m, height, width);
      }
  }
  if (config.kind == kAutoAugment) {
    const PolicyStep* steps = config.auto_policy == "cifar10"    ? kCifar10Policy
                              : config.auto_policy == "imagenet" ? kImagenetPolicy
                              : config.auto_policy == "svhn"     ? kSvhnPolicy
                                                                 : nullptr;
    if (steps == nullptr)
      throw ConfigError("data.augment.policy.policy: '" + config.auto_policy +
                        "' is not an AutoAugment policy (cifar10, imagenet, svhn)");
    t.steps.assign(steps, steps + kAutoAugmentSubPolicies * 2);
  }
  return t;
}

}  // namespace cnne
