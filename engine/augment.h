#pragma once
// Training-time augmentation settings (data.augment): torchvision's
// RandomHorizontalFlip(0.5) then RandomCrop(size, padding), applied to the
// stored bytes before normalization by ops::assemble_batch; padding pixels
// are 0, as torchvision pads the PIL image. Then, after normalization, Cutout
// (DeVries & Taylor 2017, their reference code): a square of side `cutout`
// centred on a uniformly drawn pixel (cy, cx), rows cy - cutout/2 up to
// cy + cutout/2 (exclusive, integer halves) and the same columns, clipped to
// the image, set to 0.
#include <cstdint>
#include <string>

namespace cnne {

struct AugmentConfig {
  int64_t crop_padding = 0;  // 0 = no random crop
  bool horizontal_flip = false;
  int64_t cutout = 0;  // the square's side; 0 = no cutout

  bool enabled() const { return crop_padding > 0 || horizontal_flip || cutout > 0; }
  // "RandomHorizontalFlip(), RandomCrop(padding=4), Cutout(16)", in the order applied.
  std::string describe() const {
    std::string out;
    const auto add = [&](const std::string& s) { out += (out.empty() ? "" : ", ") + s; };
    if (horizontal_flip) add("RandomHorizontalFlip()");
    if (crop_padding > 0) add("RandomCrop(padding=" + std::to_string(crop_padding) + ")");
    if (cutout > 0) add("Cutout(" + std::to_string(cutout) + ")");
    return out.empty() ? "none" : out;
  }
};

}  // namespace cnne
