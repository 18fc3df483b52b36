#pragma once
// Training-time augmentation settings (data.augment): torchvision's
// RandomHorizontalFlip(0.5) then RandomCrop(size, padding), applied to the
// stored bytes before normalization by ops::assemble_batch; padding pixels
// are 0, as torchvision pads the PIL image. Then, after normalization, Cutout
// (DeVries & Taylor 2017, their reference code): a square of side `cutout`
// centred on a uniformly drawn pixel (cy, cx), rows cy - cutout/2 up to
// cy + cutout/2 (exclusive, integer halves) and the same columns, clipped to
// the image, set to 0; or instead RandomErasing (torchvision's, Note [random
// erasing] in engine/batch_assembly.h). An augmentation policy (TrivialAugmentWide,
// RandAugment, AutoAugment) comes between the crop and the normalization:
// engine/augment_policy.h. Mixing (mixup, cutmix) then blends or patches whole
// batches: engine/mixing.h.
#include <cstdint>
#include <string>
#include <vector>

#include "engine/augment_policy_table.h"

namespace cnne {

// torchvision.transforms.RandomErasing(p, scale, ratio, value) after
// Normalize: value is in normalized units, one for every channel or one each.
struct ErasingConfig {
  double p = 0;  // 0 = off
  double scale_lo = 0.02, scale_hi = 0.33;
  double ratio_lo = 0.3, ratio_hi = 3.3;
  std::vector<double> value = {0.0};

  bool enabled() const { return p > 0; }
  double value_of(int64_t channel) const {
    return value.size() == 1 ? value[0] : value[static_cast<size_t>(channel)];
  }
  std::string describe() const;
};

struct AugmentConfig {
  int64_t crop_padding = 0;  // 0 = no random crop
  bool horizontal_flip = false;
  int64_t cutout = 0;       // the square's side; 0 = no cutout
  ErasingConfig erasing{};  // RandomErasing instead of cutout; off by default
  // Batch mixing (engine/mixing.h): Beta(alpha, alpha) for torchvision's
  // MixUp / CutMix; 0 = off; both on: one of them per batch, equally likely.
  double mixup = 0.0, cutmix = 0.0;
  // An automatic augmentation after the crop and flip (Note [augmentation
  // policies] in engine/augment_policy.h); none by default.
  PolicyConfig policy{};

  bool mixes() const { return mixup > 0 || cutmix > 0; }
  bool enabled() const {
    return crop_padding > 0 || horizontal_flip || cutout > 0 || erasing.enabled() || mixes() ||
           policy.enabled();
  }
  // "RandomHorizontalFlip(), RandomCrop(padding=4), Cutout(16)", in the order applied.
  std::string describe() const {
    std::string out;
    const auto add = [&](const std::string& s) { out += (out.empty() ? "" : ", ") + s; };
    if (horizontal_flip) add("RandomHorizontalFlip()");
    if (crop_padding > 0) add("RandomCrop(padding=" + std::to_string(crop_padding) + ")");
    if (policy.enabled()) add(policy.describe());
    if (cutout > 0) add("Cutout(" + std::to_string(cutout) + ")");
    if (erasing.enabled()) add(erasing.describe());
    const auto alpha = [](double a) {
      std::string t = std::to_string(a);
      t.erase(t.find_last_not_of('0') + 1);
      if (t.back() == '.') t.pop_back();
      return "alpha=" + t;
    };
    if (mixup > 0 && cutmix > 0)
      add("per batch RandomChoice([CutMix(" + alpha(cutmix) + "), MixUp(" + alpha(mixup) + ")])");
    else if (mixup > 0)
      add("per batch MixUp(" + alpha(mixup) + ")");
    else if (cutmix > 0)
      add("per batch CutMix(" + alpha(cutmix) + ")");
    return out.empty() ? "none" : out;
  }
};

}  // namespace cnne
