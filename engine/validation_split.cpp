#include "engine/validation_split.h"

#include <algorithm>

#include "engine/error.h"

namespace cnne {

ImageDataset hold_out_validation(ImageDataset& train, int64_t count, const std::string& where) {
  if (count < 0)
    throw ConfigError(where + ": data.validation must be >= 0, got " + std::to_string(count));
  if (count >= train.count)
    throw ConfigError(where + ": data.validation holds out " + std::to_string(count) +
                      " images but only " + std::to_string(train.count) +
                      " training images were read (after data.train_limit); nothing would be "
                      "left to train on");
  ImageDataset held;
  held.count = count;
  held.channels = train.channels;
  held.height = train.height;
  held.width = train.width;
  held.class_names = train.class_names;
  const int64_t kept = train.count - count;
  const auto first_pixel = train.pixels.begin() + kept * train.image_bytes();
  held.pixels.assign(first_pixel, train.pixels.end());                  // (count, C, H, W)
  held.labels.assign(train.labels.begin() + kept, train.labels.end());  // (count)
  train.pixels.erase(first_pixel, train.pixels.end());
  train.pixels.shrink_to_fit();
  train.labels.resize(static_cast<size_t>(kept));
  train.count = kept;
  return held;
}

}  // namespace cnne
