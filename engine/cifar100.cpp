#include "engine/cifar100.h"

#include <filesystem>

#include "engine/cifar10.h"
#include "engine/cifar_python.h"
#include "engine/data_folder.h"

namespace cnne::cifar100 {
namespace fs = std::filesystem;

std::string locate(const std::string& requested) {
  static const FolderRule rule{"CIFAR-100",
                               {"test.bin", "train.bin", "test", "train"},
                               {"cifar-100-binary", "cifar-100-python"},
                               {"./data/cifar-100-binary", "./cifar-100-binary", "./data"},
                               "download " + std::string(kDownloadUrl) +
                                   " (or the Python version that torchvision downloads), extract "
                                   "it (tar xzf) and pass --data DIR or set " +
                                   kDataEnvVar};
  return locate_folder(rule, requested);
}

bool holds_python_version(const std::string& dir) {
  return holds_python_files(dir, {"test.bin", "train.bin"}, {"test", "train"});
}

namespace {

ImageDataset load(const std::string& dir, const char* file, int64_t limit) {
  const std::string path = (fs::path(dir) / file).string();
  ImageDataset set = holds_python_version(dir)
                         ? cifar_python::read_batches({path}, limit, cifar_python::kCifar100Python)
                         : cifar10::read_files({path + ".bin"}, limit, cifar10::kCifar100Records);
  set.class_names = read_class_names(dir);
  return set;
}

}  // namespace

ImageDataset load_train(const std::string& dir, int64_t limit) {
  return load(dir, "train", limit);
}

ImageDataset load_test(const std::string& dir, int64_t limit) {
  return load(dir, "test", limit);
}

std::vector<std::string> read_class_names(const std::string& dir) {
  if (holds_python_version(dir))
    return cifar_python::read_names((fs::path(dir) / "meta").string(),
                                    cifar_python::kCifar100Python);
  return cifar10::read_name_lines((fs::path(dir) / "fine_label_names.txt").string(), kClasses);
}

}  // namespace cnne::cifar100
