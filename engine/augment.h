#pragma once
// Training-time augmentation, torchvision's RandomCrop(size, padding) and
// RandomHorizontalFlip(0.5), applied to the stored bytes before
// normalization: padding pixels are 0, as torchvision pads the PIL image.
//
// Note [stateless augmentation draws]: the draws for batch b of epoch e come
// from a generator seeded by (seed, e, b), not from a running stream, so a
// resumed run augments exactly as the uninterrupted one without saving any
// generator state.
#include <cstdint>

#include "engine/dataset.h"
#include "engine/rng.h"

namespace cnne {

struct AugmentConfig {
  int64_t crop_padding = 0;  // 0 = no random crop
  bool horizontal_flip = false;

  bool enabled() const { return crop_padding > 0 || horizontal_flip; }
};

// The generator for batch `batch` of epoch `epoch` (0-based) of a run seeded `seed`.
Rng augment_rng(uint64_t seed, int64_t epoch, int64_t batch);

// dst (C, H, W) bytes <- the crop at offset (dy, dx) in [-pad, pad] of the
// zero-padded image, mirrored left-right first when `flip` (torchvision's
// RandomHorizontalFlip followed by RandomCrop).
void crop_and_flip(const uint8_t* image, int64_t channels, int64_t height, int64_t width,
                   int64_t dy, int64_t dx, bool flip, uint8_t* dst);

}  // namespace cnne
