#pragma once
// CIFAR-10 and CIFAR-100 in their "Python version" (cifar-10-batches-py,
// cifar-100-python): what torchvision.datasets.CIFAR10(root, download=True)
// leaves in ./data, so a user of the PyTorch tutorial already has it. Each
// batch file is a pickled dict (Python 2's cPickle, protocol 2)
//   {"data": numpy uint8 array (N, 3072): R plane, G plane, B plane, 32x32 row-major,
//    "labels" (CIFAR-100: "fine_labels"): a list of N ints, "batch_label", "filenames", ...}
// and the meta file (batches.meta, CIFAR-100's meta) names the classes under
// "label_names" ("fine_label_names"). The restricted unpickler
// (engine/pickle.h) reads them without running anything; numpy arrays are
// accepted as Python 2 and 3 write them (protocols 2 to 5), keys as str or bytes.
#include <cstdint>
#include <span>
#include <string>
#include <vector>

#include "engine/dataset.h"

namespace cnne::cifar_python {

struct PythonFormat {
  const char* title;      // in messages: "CIFAR-10"
  const char* label_key;  // the batch dict's key of the labels
  const char* names_key;  // the meta dict's key of the class names
  int64_t classes;
};
constexpr PythonFormat kCifar10Python{"CIFAR-10", "labels", "label_names", 10};
constexpr PythonFormat kCifar100Python{"CIFAR-100", "fine_labels", "fine_label_names", 100};

// Reads the pickled batch files in order, at most `limit` images (0 = all).
// DataError naming the file on a missing file, a malformed pickle, a missing
// key, an array that is not uint8 (N, 3072), a label count that is not N or a
// label out of range.
ImageDataset read_batches(const std::vector<std::string>& files, int64_t limit,
                          const PythonFormat& format);

// Appends the images of one pickled batch (`bytes`, named `name` in errors)
// to `set`, stopping at `limit` images in all (0 = no limit).
void append_batch(std::span<const uint8_t> bytes, const std::string& name, int64_t limit,
                  const PythonFormat& format, ImageDataset& set);

// The class names of the pickled meta file at `path`; empty if it is absent.
// DataError naming it unless it holds `format.classes` names.
std::vector<std::string> read_names(const std::string& path, const PythonFormat& format);
std::vector<std::string> parse_names(std::span<const uint8_t> bytes, const std::string& name,
                                     const PythonFormat& format);

}  // namespace cnne::cifar_python
