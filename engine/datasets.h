#pragma once
// The data sets cnnengine reads (data.dataset): one place that knows each
// one's channels and classes, where to find it and how to read it.
#include <cstdint>
#include <string>
#include <vector>

#include "engine/dataset.h"

namespace cnne::datasets {

struct DatasetInfo {
  const char* name;           // the config's data.dataset
  const char* title;          // in messages: "CIFAR-10"
  int64_t channels, classes;  // the image size comes from the files
};

// cifar10 (the default), cifar100, fashion-mnist, mnist.
const std::vector<DatasetInfo>& known();
// "cifar10, fashion-mnist, mnist"
std::string known_names();
// The data set called `name`, or null.
const DatasetInfo* find(const std::string& name);
// The data set called `name`; ConfigError listing the known ones if none is.
const DatasetInfo& info(const std::string& name);

// The folder of `dataset`: `requested` if given, else $CNNE_DATA, else its
// usual places (cifar10::locate, cifar100::locate, mnist::locate).
std::string locate(const std::string& dataset, const std::string& requested);
ImageDataset load_train(const std::string& dataset, const std::string& dir, int64_t limit);
ImageDataset load_test(const std::string& dataset, const std::string& dir, int64_t limit);

}  // namespace cnne::datasets
