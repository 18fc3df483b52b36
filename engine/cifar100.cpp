#include "engine/cifar100.h"

#include <filesystem>

#include "engine/cifar10.h"
#include "engine/data_folder.h"

namespace cnne::cifar100 {
namespace fs = std::filesystem;

std::string locate(const std::string& requested) {
  static const FolderRule rule{"CIFAR-100",
                               {"test.bin", "train.bin"},
                               {"cifar-100-binary"},
                               {"./data/cifar-100-binary", "./cifar-100-binary", "./data"},
                               "download " + std::string(kDownloadUrl) +
                                   ", extract it (tar xzf) and pass --data DIR or set " +
                                   kDataEnvVar};
  return locate_folder(rule, requested);
}

namespace {

ImageDataset load(const std::string& dir, const char* file, int64_t limit) {
  ImageDataset set =
      cifar10::read_files({(fs::path(dir) / file).string()}, limit, cifar10::kCifar100Records);
  set.class_names = read_class_names(dir);
  return set;
}

}  // namespace

ImageDataset load_train(const std::string& dir, int64_t limit) {
  return load(dir, "train.bin", limit);
}

ImageDataset load_test(const std::string& dir, int64_t limit) {
  return load(dir, "test.bin", limit);
}

std::vector<std::string> read_class_names(const std::string& dir) {
  return cifar10::read_name_lines((fs::path(dir) / "fine_label_names.txt").string(), kClasses);
}

}  // namespace cnne::cifar100
