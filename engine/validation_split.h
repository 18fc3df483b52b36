#pragma once
// The validation set (data.validation): the last N training images, held out
// before training. Evaluations during training and the choice of the best
// checkpoint use it, so the test set stays unseen until the final evaluation
// (choosing the best epoch by test accuracy would tune on the test set).
// The last N and not a random N: CIFAR-10's training files are in random
// order already, and the split then does not move with the seed, so runs
// with different seeds are compared on the same images.
#include <cstdint>
#include <string>

#include "engine/dataset.h"

namespace cnne {

// Moves the last `count` images of `train` into the returned set (same image
// size and class names); `train` keeps the rest. ConfigError naming
// data.validation and `where` when fewer than count + 1 images were read.
ImageDataset hold_out_validation(ImageDataset& train, int64_t count, const std::string& where);

}  // namespace cnne
