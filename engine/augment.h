#pragma once
// Training-time augmentation settings (data.augment): torchvision's
// RandomHorizontalFlip(0.5) then RandomCrop(size, padding), applied to the
// stored bytes before normalization by ops::assemble_batch; padding pixels
// are 0, as torchvision pads the PIL image.
#include <cstdint>

namespace cnne {

struct AugmentConfig {
  int64_t crop_padding = 0;  // 0 = no random crop
  bool horizontal_flip = false;

  bool enabled() const { return crop_padding > 0 || horizontal_flip; }
};

}  // namespace cnne
