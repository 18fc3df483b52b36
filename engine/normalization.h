#pragma once
// ToTensor + Normalize as a per-channel lookup table: value[c][p] is
// (p / 255 - mean[c]) / std[c] computed in float in torchvision's order,
// so a batch equals what PyTorch feeds its model bit for bit.
#include <array>
#include <cstddef>
#include <cstdint>
#include <vector>

namespace cnne {

class Normalization {
 public:
  Normalization(const std::vector<double>& mean, const std::vector<double>& std);
  float operator()(int64_t channel, uint8_t pixel) const {
    return table_[static_cast<size_t>(channel)][pixel];
  }
  int64_t channels() const { return static_cast<int64_t>(table_.size()); }
  // The table as (channels, 256) floats, row-major.
  std::vector<float> flat() const;

 private:
  std::vector<std::array<float, 256>> table_;
};

}  // namespace cnne
