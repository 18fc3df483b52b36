#pragma once
// The IDX format of MNIST and Fashion-MNIST (LeCun's
// train-images-idx3-ubyte, ...): 4 magic bytes (0, 0, type 0x08 = unsigned
// byte, the number of dimensions), each dimension as a big-endian uint32, then
// the values in row-major order. Files may be gzip-compressed (as they are
// distributed) or not; zlib reads both.
#include <cstdint>
#include <string>

#include "engine/dataset.h"

namespace cnne::idx {

// Reads an images file, (N, rows, cols) bytes, and its labels file, (N) bytes
// each in [0, classes), into one-channel images: at most `limit` images
// (0 = all). Validates the magic bytes, the dimensions, that both files hold
// the same N, every label, and (without a limit) that nothing follows the
// data. Errors name the file.
ImageDataset read_pair(const std::string& images_file, const std::string& labels_file,
                       int64_t limit, int64_t classes);

}  // namespace cnne::idx
