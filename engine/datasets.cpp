#include "engine/datasets.h"

#include "engine/cifar10.h"
#include "engine/cifar100.h"
#include "engine/error.h"
#include "engine/mnist.h"

namespace cnne::datasets {
namespace {

bool is_cifar(const std::string& dataset) {
  info(dataset);  // an unknown name is an error here too
  return dataset == "cifar10";
}

mnist::Family family(const std::string& dataset) {
  return dataset == "fashion-mnist" ? mnist::Family::kFashion : mnist::Family::kDigits;
}

}  // namespace

const std::vector<DatasetInfo>& known() {
  static const std::vector<DatasetInfo> sets{{"cifar10", "CIFAR-10", 3, cifar10::kClasses},
                                             {"cifar100", "CIFAR-100", 3, cifar100::kClasses},
                                             {"fashion-mnist", "Fashion-MNIST", 1, mnist::kClasses},
                                             {"mnist", "MNIST", 1, mnist::kClasses}};
  return sets;
}

std::string known_names() {
  std::string out;
  for (const DatasetInfo& d : known()) out += (out.empty() ? "" : ", ") + std::string(d.name);
  return out;
}

const DatasetInfo* find(const std::string& name) {
  for (const DatasetInfo& d : known())
    if (name == d.name) return &d;
  return nullptr;
}

const DatasetInfo& info(const std::string& name) {
  if (const DatasetInfo* d = find(name)) return *d;
  throw ConfigError("unknown data set '" + name + "', expected one of " + known_names());
}

std::string locate(const std::string& dataset, const std::string& requested) {
  if (is_cifar(dataset)) return cifar10::locate(requested);
  if (dataset == "cifar100") return cifar100::locate(requested);
  return mnist::locate(family(dataset), requested);
}

ImageDataset load_train(const std::string& dataset, const std::string& dir, int64_t limit) {
  if (is_cifar(dataset)) return cifar10::load_train(dir, limit);
  if (dataset == "cifar100") return cifar100::load_train(dir, limit);
  return mnist::load_train(family(dataset), dir, limit);
}

ImageDataset load_test(const std::string& dataset, const std::string& dir, int64_t limit) {
  if (is_cifar(dataset)) return cifar10::load_test(dir, limit);
  if (dataset == "cifar100") return cifar100::load_test(dir, limit);
  return mnist::load_test(family(dataset), dir, limit);
}

}  // namespace cnne::datasets
