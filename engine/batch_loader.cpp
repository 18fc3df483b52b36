#include "engine/batch_loader.h"

#include <numeric>
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

void Normalization::apply(const uint8_t* image, int64_t channels, int64_t plane, float* dst) const {
  if (channels != static_cast<int64_t>(table_.size()))
    throw DataError("normalize has " + std::to_string(table_.size()) + " channels, images have " +
                    std::to_string(channels));
  for (int64_t c = 0; c < channels; ++c) {
    const auto& t = table_[static_cast<size_t>(c)];
    const uint8_t* src = image + c * plane;
    float* out = dst + c * plane;
    for (int64_t i = 0; i < plane; ++i) out[i] = t[src[i]];
  }
}

BatchLoader::BatchLoader(const ImageDataset& data, int64_t batch_size, bool shuffle)
    : data_(data),
      batch_size_(batch_size),
      shuffle_(shuffle),
      order_(static_cast<size_t>(data.count)) {
  if (batch_size_ < 1) throw Error("BatchLoader: batch size must be >= 1");
  std::iota(order_.begin(), order_.end(), 0);
}

void BatchLoader::set_augment(const AugmentConfig& augment, uint64_t seed) {
  augment_ = augment;
  augment_seed_ = seed;
  scratch_.resize(static_cast<size_t>(data_.image_bytes()));
}

void BatchLoader::set_mirror(bool mirror) {
  mirror_ = mirror;
  scratch_.resize(static_cast<size_t>(data_.image_bytes()));
}

void BatchLoader::start_epoch(Rng& rng, int64_t epoch) {
  epoch_ = epoch;
  std::iota(order_.begin(), order_.end(), 0);
  if (shuffle_) rng.shuffle(order_);
}

int64_t BatchLoader::batch_count(int64_t b) const {
  return std::min(batch_size_, data_.count - b * batch_size_);
}

int64_t BatchLoader::fill(int64_t b, const Normalization& norm, float* x, int32_t* labels) const {
  const int64_t n = batch_count(b);
  const int64_t plane = data_.height * data_.width;
  Rng draws = augment_rng(augment_seed_, epoch_, b);
  for (int64_t i = 0; i < n; ++i) {
    const int32_t index = order_[static_cast<size_t>(b * batch_size_ + i)];
    const uint8_t* image = data_.image(index);
    if (augment_.enabled()) {  // the draws in torchvision's order: flip, then crop offsets
      const bool flip = augment_.horizontal_flip && draws.uniform01() < 0.5f;
      const auto span = static_cast<uint64_t>(2 * augment_.crop_padding + 1);
      const int64_t dy = static_cast<int64_t>(draws.below(span)) - augment_.crop_padding;
      const int64_t dx = static_cast<int64_t>(draws.below(span)) - augment_.crop_padding;
      crop_and_flip(image, data_.channels, data_.height, data_.width, dy, dx, flip,
                    scratch_.data());
      image = scratch_.data();
    } else if (mirror_) {
      crop_and_flip(image, data_.channels, data_.height, data_.width, 0, 0, true, scratch_.data());
      image = scratch_.data();
    }
    norm.apply(image, data_.channels, plane, x + i * data_.image_bytes());
    labels[i] = data_.labels[static_cast<size_t>(index)];
  }
  return n;
}

}  // namespace cnne
