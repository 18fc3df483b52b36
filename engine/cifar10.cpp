#include "engine/cifar10.h"

#include <cstdio>
#include <filesystem>
#include <fstream>
#include <memory>

#include "engine/cifar_python.h"
#include "engine/data_folder.h"
#include "engine/error.h"

namespace cnne::cifar10 {
namespace fs = std::filesystem;
namespace {

struct FileCloser {
  void operator()(std::FILE* f) const { std::fclose(f); }
};

}  // namespace

std::string locate(const std::string& requested) {
  static const FolderRule rule{
      "CIFAR-10",
      {"test_batch.bin", "data_batch_1.bin", "test_batch", "data_batch_1"},
      {"cifar-10-batches-bin", "cifar-10-batches-py"},
      {"./data/cifar-10-batches-bin", "./cifar-10-batches-bin", "./data"},
      "download " + std::string(kDownloadUrl) +
          " (or the Python version that torchvision downloads), extract it (tar xzf) and pass "
          "--data DIR or set " +
          kDataEnvVar};
  return locate_folder(rule, requested);
}

bool holds_python_version(const std::string& dir) {
  return holds_python_files(dir, {"test_batch.bin", "data_batch_1.bin"},
                            {"test_batch", "data_batch_1"});
}

ImageDataset read_files(const std::vector<std::string>& files, int64_t limit,
                        const RecordFormat& format) {
  const int64_t record = format.record_bytes();
  ImageDataset set;
  for (const std::string& file : files) {
    if (limit > 0 && set.count >= limit) break;
    std::error_code ec;
    if (!fs::is_regular_file(file, ec))
      throw DataError(file + ": missing " + format.title + " file");
    const auto size = static_cast<int64_t>(fs::file_size(file, ec));
    if (ec) throw DataError(file + ": cannot read its size: " + ec.message());
    if (size == 0 || size % record != 0)
      throw DataError(file + ": size " + std::to_string(size) + " bytes is not a whole number of " +
                      std::to_string(record) + "-byte records (" +
                      std::to_string(format.label_bytes) + " label" +
                      (format.label_bytes > 1 ? "s" : "") +
                      " + 3072 pixels); the file is truncated or not " + format.title + " binary");
    int64_t records = size / record;
    if (limit > 0) records = std::min(records, limit - set.count);

    std::unique_ptr<std::FILE, FileCloser> f(std::fopen(file.c_str(), "rb"));
    if (!f) throw DataError(file + ": cannot open");
    std::vector<uint8_t> raw(static_cast<size_t>(records * record));
    if (std::fread(raw.data(), 1, raw.size(), f.get()) != raw.size())
      throw DataError(file + ": read failed after the size check (file changed while reading?)");
    append_records(raw.data(), raw.size(), file, set, format);
  }
  return set;
}

void append_records(const uint8_t* bytes, size_t size, const std::string& name, ImageDataset& set,
                    const RecordFormat& format) {
  const int64_t record = format.record_bytes();
  if (size % static_cast<size_t>(record) != 0)
    throw DataError(name + ": " + std::to_string(size) + " bytes are not a whole number of " +
                    std::to_string(record) + "-byte records");
  const auto records = static_cast<int64_t>(size) / record;
  const int64_t image_bytes = set.image_bytes();
  set.pixels.resize(static_cast<size_t>((set.count + records) * image_bytes));
  set.labels.resize(static_cast<size_t>(set.count + records));
  for (int64_t r = 0; r < records; ++r) {
    const uint8_t* rec = bytes + r * record;
    const uint8_t label = rec[format.label_at];
    if (label >= format.classes)
      throw DataError(name + ": record " + std::to_string(r) + " has label " +
                      std::to_string(label) + ", expected 0.." +
                      std::to_string(format.classes - 1));
    set.labels[static_cast<size_t>(set.count + r)] = label;
    std::copy(rec + format.label_bytes, rec + record,
              set.pixels.begin() + static_cast<ptrdiff_t>((set.count + r) * image_bytes));
  }
  set.count += records;
}

ImageDataset load_train(const std::string& dir, int64_t limit) {
  const bool python = holds_python_version(dir);
  std::vector<std::string> files;
  for (int i = 1; i <= 5; ++i)
    files.push_back(
        (fs::path(dir) / ("data_batch_" + std::to_string(i) + (python ? "" : ".bin"))).string());
  ImageDataset set = python ? cifar_python::read_batches(files, limit, cifar_python::kCifar10Python)
                            : read_files(files, limit);
  set.class_names = read_class_names(dir);
  return set;
}

ImageDataset load_test(const std::string& dir, int64_t limit) {
  ImageDataset set = holds_python_version(dir)
                         ? cifar_python::read_batches({(fs::path(dir) / "test_batch").string()},
                                                      limit, cifar_python::kCifar10Python)
                         : read_files({(fs::path(dir) / "test_batch.bin").string()}, limit);
  set.class_names = read_class_names(dir);
  return set;
}

std::vector<std::string> read_class_names(const std::string& dir) {
  if (holds_python_version(dir))
    return cifar_python::read_names((fs::path(dir) / "batches.meta").string(),
                                    cifar_python::kCifar10Python);
  return read_name_lines((fs::path(dir) / "batches.meta.txt").string(), kClasses);
}

std::vector<std::string> read_name_lines(const std::string& path, int64_t classes) {
  std::ifstream in(path);
  if (!in) return {};
  std::vector<std::string> names;
  std::string line;
  while (std::getline(in, line)) {
    while (!line.empty() && (line.back() == '\r' || line.back() == ' ')) line.pop_back();
    if (!line.empty()) names.push_back(line);
  }
  if (static_cast<int64_t>(names.size()) != classes)
    throw DataError(path + ": expected " + std::to_string(classes) +
                    " class names, one per line, found " + std::to_string(names.size()));
  return names;
}

}  // namespace cnne::cifar10
