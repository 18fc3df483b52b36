#pragma once
// CIFAR-10 in its original binary format (cifar-10-batches-bin): each file
// holds records of 1 label byte and 3072 pixel bytes (R plane, G plane, B
// plane, 32x32 row-major); batches.meta.txt names the classes, one per line.
// A folder holding the Python version instead (cifar-10-batches-py: pickled
// data_batch_1..5, test_batch, batches.meta) is read by engine/cifar_python.h.
#include <cstdint>
#include <string>
#include <vector>

#include "engine/dataset.h"

namespace cnne::cifar10 {

constexpr int64_t kRecordBytes = 3073;
constexpr int64_t kClasses = 10;

// The binary record layouts of the CIFAR family: label bytes, then the 3072
// pixel bytes. CIFAR-100's records carry two labels (coarse, then fine); the
// fine one, its 100 classes, is the one read.
struct RecordFormat {
  const char* title;    // in messages
  int64_t label_bytes;  // before the pixels
  int64_t label_at;     // which of them is the label
  int64_t classes;
  int64_t record_bytes() const { return label_bytes + 3072; }
};
constexpr RecordFormat kCifar10Records{"CIFAR-10", 1, 0, kClasses};
constexpr RecordFormat kCifar100Records{"CIFAR-100", 2, 1, 100};
constexpr const char* kDownloadUrl = "https://www.cs.toronto.edu/~kriz/cifar-10-binary.tar.gz";

// The folder holding the data files (binary, or the Python version's):
// `requested` if given (a folder that has the files, or one with a
// cifar-10-batches-bin/ or cifar-10-batches-py/ inside), else $CNNE_DATA,
// else ./data/cifar-10-batches-bin, ./cifar-10-batches-bin, ./data (where the
// tutorial's torchvision download puts cifar-10-batches-py/).
// Throws DataError saying where it looked and how to get the data.
std::string locate(const std::string& requested);

// Reads records from `files` in order, at most `limit` images (0 = all).
// Validates every file's size and every label; errors name the file.
ImageDataset read_files(const std::vector<std::string>& files, int64_t limit,
                        const RecordFormat& format = kCifar10Records);

// Appends the records in `bytes` (a whole number of them) to `set`; errors name `name`.
void append_records(const uint8_t* bytes, size_t size, const std::string& name, ImageDataset& set,
                    const RecordFormat& format = kCifar10Records);

// Class names one per line (batches.meta.txt, CIFAR-100's fine_label_names.txt);
// empty if the file is absent; DataError naming it unless it holds `classes` names.
std::vector<std::string> read_name_lines(const std::string& path, int64_t classes);

// True when `dir` holds the Python version's files and not the binary ones.
bool holds_python_version(const std::string& dir);

ImageDataset load_train(const std::string& dir, int64_t limit);  // data_batch_1..5(.bin)
ImageDataset load_test(const std::string& dir, int64_t limit);   // test_batch(.bin)

// The class names of batches.meta.txt (the Python version: batches.meta) in
// `dir`; empty if the file is absent.
std::vector<std::string> read_class_names(const std::string& dir);

}  // namespace cnne::cifar10
