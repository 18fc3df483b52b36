#pragma once
// CIFAR-100 in its original binary format (cifar-100-binary): train.bin
// (50,000 images) and test.bin (10,000), records of a coarse label byte, a
// fine label byte and 3072 pixel bytes laid out as CIFAR-10's; the fine labels
// (100 classes) are read, and fine_label_names.txt names them, one per line.
// A folder holding the Python version instead (cifar-100-python: pickled
// train, test and meta) is read by engine/cifar_python.h.
#include <cstdint>
#include <string>
#include <vector>

#include "engine/dataset.h"

namespace cnne::cifar100 {

constexpr int64_t kClasses = 100;
constexpr const char* kDownloadUrl = "https://www.cs.toronto.edu/~kriz/cifar-100-binary.tar.gz";

// The folder holding train.bin / test.bin (or the Python version's train /
// test): `requested` if given (or its cifar-100-binary/ or cifar-100-python/
// subfolder), else $CNNE_DATA, else ./data/cifar-100-binary,
// ./cifar-100-binary, ./data. DataError saying where it looked and how to get it.
std::string locate(const std::string& requested);

// True when `dir` holds the Python version's files and not the binary ones.
bool holds_python_version(const std::string& dir);

ImageDataset load_train(const std::string& dir, int64_t limit);  // train(.bin)
ImageDataset load_test(const std::string& dir, int64_t limit);   // test(.bin)

// The names of fine_label_names.txt (the Python version: meta's
// fine_label_names) in `dir`; empty if the file is absent.
std::vector<std::string> read_class_names(const std::string& dir);

}  // namespace cnne::cifar100
