#pragma once
// Note [batch mixing]: data.augment.mixup / cutmix, torchvision's
// transforms.v2.MixUp and CutMix (and timm's Mixup with both) after the
// per-image augmentation and normalization:
//   lambda ~ Beta(alpha, alpha), once per batch; the batch's image i is mixed
//   with image (i - 1) mod n (torch.roll(batch, 1, 0)), and so are the labels:
//   target = lambda * onehot(y_i) + (1 - lambda) * onehot(y_{i-1}).
//   MixUp:  x_i = x_i * lambda + x_{i-1} * (1 - lambda).
//   CutMix: a box around a uniform pixel (cy, cx), half-sides
//           int(0.5 * sqrt(1 - lambda) * H) and the same for W, clipped,
//           is copied from x_{i-1}; lambda becomes 1 - box area / (H * W).
// With both set, each batch takes one of the two, equally likely
// (transforms.RandomChoice([cutmix, mixup])). The loss is the cross-entropy
// of the mixed target (label smoothing applies to it, as CrossEntropyLoss
// does to probability targets): lambda * CE(y_i) + (1 - lambda) * CE(y_{i-1});
// the training accuracy counts the label with the larger weight.
//
// The draws are made on the host from a key of (seed, epoch) and the batch's
// index, like the crops (Note [stateless augmentation draws]): a resumed run
// mixes as an uninterrupted one. They travel in BatchArgs, uploaded with each
// step, so a captured CUDA graph mixes every batch its own way.
#include <cstdint>

#include "engine/augment.h"
#include "engine/ops.h"
#include "engine/rng.h"

namespace cnne {

// A draw from Beta(alpha, alpha), alpha > 0 (two gamma draws, Marsaglia and Tsang).
double sample_beta(Rng& rng, double alpha);

// Fills the mixing fields of `args` for the batch at index `batch` of `count`
// images of height x width, drawn from `key` (kNoMix when nothing mixes).
void draw_mix(const AugmentConfig& augment, uint64_t key, int64_t batch, int64_t count, int height,
              int width, BatchArgs& args);

}  // namespace cnne
