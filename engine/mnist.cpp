#include "engine/mnist.h"

#include <filesystem>

#include "engine/data_folder.h"
#include "engine/idx.h"

namespace cnne::mnist {
namespace fs = std::filesystem;
namespace {

// The file `stem` in `dir`, gzip-compressed (as distributed) or extracted.
std::string data_file(const std::string& dir, const std::string& stem) {
  const fs::path plain = fs::path(dir) / stem;
  std::error_code ec;
  if (fs::is_regular_file(plain, ec)) return plain.string();
  return plain.string() + ".gz";  // also what a missing-file error names
}

ImageDataset load(Family family, const std::string& dir, const std::string& split, int64_t limit) {
  ImageDataset set = idx::read_pair(data_file(dir, split + "-images-idx3-ubyte"),
                                    data_file(dir, split + "-labels-idx1-ubyte"), limit, kClasses);
  set.class_names = class_names(family);
  return set;
}

}  // namespace

std::string locate(Family family, const std::string& requested) {
  static const std::vector<std::string> markers{
      "t10k-images-idx3-ubyte.gz", "t10k-images-idx3-ubyte", "train-images-idx3-ubyte.gz",
      "train-images-idx3-ubyte"};
  static const FolderRule fashion{
      "Fashion-MNIST",
      markers,
      {"fashion-mnist", "FashionMNIST/raw"},
      {"./data/fashion-mnist", "./fashion-mnist", "./data/FashionMNIST/raw",
       "/usr/share/datasets/fashion-mnist"},
      "install Debian's dataset-fashion-mnist (/usr/share/datasets/fashion-mnist) or download the "
      "four .gz files of https://github.com/zalandoresearch/fashion-mnist, and pass --data DIR "
      "or set " +
          std::string(kDataEnvVar)};
  static const FolderRule digits{
      "MNIST",
      markers,
      {"mnist", "MNIST/raw"},
      {"./data/mnist", "./mnist", "./data/MNIST/raw"},
      "download the four .gz files (train-images-idx3-ubyte.gz, ...; torchvision's mirror: "
      "https://ossci-datasets.s3.amazonaws.com/mnist/) and pass --data DIR or set " +
          std::string(kDataEnvVar)};
  return locate_folder(family == Family::kFashion ? fashion : digits, requested);
}

ImageDataset load_train(Family family, const std::string& dir, int64_t limit) {
  return load(family, dir, "train", limit);
}

ImageDataset load_test(Family family, const std::string& dir, int64_t limit) {
  return load(family, dir, "t10k", limit);
}

std::vector<std::string> class_names(Family family) {
  if (family == Family::kFashion)
    return {"T-shirt/top", "Trouser", "Pullover", "Dress", "Coat",
            "Sandal",      "Shirt",   "Sneaker",  "Bag",   "Ankle boot"};
  return {"0", "1", "2", "3", "4", "5", "6", "7", "8", "9"};
}

}  // namespace cnne::mnist
