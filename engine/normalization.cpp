#include "engine/normalization.h"

#include <string>

#include "engine/error.h"

namespace cnne {

Normalization::Normalization(const std::vector<double>& mean, const std::vector<double>& std) {
  if (mean.size() != std.size())
    throw ConfigError("normalize: mean has " + std::to_string(mean.size()) + " values, std " +
                      std::to_string(std.size()));
  table_.resize(mean.size());
  for (size_t c = 0; c < mean.size(); ++c) {
    const auto m = static_cast<float>(mean[c]);
    const auto s = static_cast<float>(std[c]);
    for (int p = 0; p < 256; ++p) {
      const float x = static_cast<float>(p) / 255.0f;   // ToTensor: img.float().div(255)
      table_[c][static_cast<size_t>(p)] = (x - m) / s;  // Normalize: sub_(mean).div_(std)
    }
  }
}

std::vector<float> Normalization::flat() const {
  std::vector<float> out;
  for (const auto& row : table_) out.insert(out.end(), row.begin(), row.end());
  return out;
}

}  // namespace cnne
