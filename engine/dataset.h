#pragma once
// ImageDataset: images kept as the bytes they are on disk, normalized per
// batch (engine/device_dataset.h). CIFAR-10 is 150 MB this way, 600 MB as floats.
#include <cstdint>
#include <string>
#include <vector>

namespace cnne {

struct ImageDataset {
  int64_t count = 0;
  int64_t channels = 3, height = 32, width = 32;
  std::vector<uint8_t> pixels;  // (count, channels, height, width), planar RGB like CIFAR
  std::vector<int32_t> labels;  // (count), in [0, classes)
  std::vector<std::string> class_names;

  int64_t image_bytes() const { return channels * height * width; }
  const uint8_t* image(int64_t i) const { return pixels.data() + i * image_bytes(); }
};

}  // namespace cnne
