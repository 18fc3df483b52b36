#pragma once
// BatchLoader: the tutorial's DataLoader + ToTensor + Normalize. Each epoch
// draws a permutation from the run's Rng (when shuffling); batch b holds
// images perm[b*B .. b*B+B), the last one possibly smaller.
#include <array>
#include <cstdint>
#include <vector>

#include "engine/augment.h"
#include "engine/dataset.h"
#include "engine/rng.h"

namespace cnne {

// ToTensor + Normalize as a per-channel lookup table: value[c][p] is
// (p / 255 - mean[c]) / std[c] computed in float in torchvision's order,
// so a batch equals what PyTorch feeds its model bit for bit.
class Normalization {
 public:
  Normalization(const std::vector<double>& mean, const std::vector<double>& std);
  float operator()(int64_t channel, uint8_t pixel) const {
    return table_[static_cast<size_t>(channel)][pixel];
  }
  // dst (channels*H*W) <- normalized image bytes (channels*H*W), planar.
  void apply(const uint8_t* image, int64_t channels, int64_t plane, float* dst) const;

 private:
  std::vector<std::array<float, 256>> table_;
};

class BatchLoader {
 public:
  BatchLoader(const ImageDataset& data, int64_t batch_size, bool shuffle);
  // Training loaders augment each image (Note [stateless augmentation draws]).
  void set_augment(const AugmentConfig& augment, uint64_t seed);
  // Mirror every image left-right (test-time flip averaging).
  void set_mirror(bool mirror);

  int64_t batch_size() const { return batch_size_; }
  int64_t batches() const { return (data_.count + batch_size_ - 1) / batch_size_; }
  // New order for epoch `epoch` (0-based; identity when not shuffling).
  void start_epoch(Rng& rng, int64_t epoch = 0);
  int64_t batch_count(int64_t b) const;  // images in batch b
  // x (n, C, H, W) F32 normalized, labels (n) I32 for batch b; returns n.
  int64_t fill(int64_t b, const Normalization& norm, float* x, int32_t* labels) const;

 private:
  const ImageDataset& data_;
  int64_t batch_size_;
  bool shuffle_;
  std::vector<int32_t> order_;  // (count) image indices of this epoch
  AugmentConfig augment_;
  uint64_t augment_seed_ = 0;
  int64_t epoch_ = 0;
  bool mirror_ = false;
  mutable std::vector<uint8_t> scratch_;  // (C, H, W) one augmented image
};

}  // namespace cnne
