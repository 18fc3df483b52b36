#pragma once
// The MNIST family: Fashion-MNIST (Zalando's 28x28 grayscale clothes, the
// Debian package dataset-fashion-mnist) and MNIST (digits), both as the four
// IDX files they are distributed as (train-images-idx3-ubyte.gz,
// train-labels-idx1-ubyte.gz, t10k-images-idx3-ubyte.gz,
// t10k-labels-idx1-ubyte.gz; gzip-compressed or not).
#include <cstdint>
#include <string>
#include <vector>

#include "engine/dataset.h"

namespace cnne::mnist {

enum class Family { kFashion, kDigits };

constexpr int64_t kClasses = 10;

// The folder holding the files: `requested` if given (it, or its
// fashion-mnist/ or FashionMNIST/raw/ (torchvision's download) subfolder),
// else $CNNE_DATA, else ./data/fashion-mnist, ./fashion-mnist,
// /usr/share/datasets/fashion-mnist (for MNIST: ./data/mnist, ./mnist,
// ./data/MNIST/raw). Throws DataError saying where it looked and how to get
// the files.
std::string locate(Family family, const std::string& requested);

ImageDataset load_train(Family family, const std::string& dir, int64_t limit);  // 60,000 images
ImageDataset load_test(Family family, const std::string& dir, int64_t limit);   // 10,000 images

// torchvision's class names: T-shirt/top, Trouser, ... / 0, 1, ..., 9.
std::vector<std::string> class_names(Family family);

}  // namespace cnne::mnist
