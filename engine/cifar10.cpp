#include "engine/cifar10.h"

#include <cstdio>
#include <filesystem>
#include <fstream>
#include <memory>

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
  static const FolderRule rule{"CIFAR-10",
                               {"test_batch.bin", "data_batch_1.bin"},
                               {"cifar-10-batches-bin"},
                               {"./data/cifar-10-batches-bin", "./cifar-10-batches-bin", "./data"},
                               "download " + std::string(kDownloadUrl) +
                                   ", extract it (tar xzf) and pass --data DIR or set " +
                                   kDataEnvVar};
  return locate_folder(rule, requested);
}

ImageDataset read_files(const std::vector<std::string>& files, int64_t limit) {
  ImageDataset set;
  for (const std::string& file : files) {
    if (limit > 0 && set.count >= limit) break;
    std::error_code ec;
    if (!fs::is_regular_file(file, ec)) throw DataError(file + ": missing CIFAR-10 file");
    const auto size = static_cast<int64_t>(fs::file_size(file, ec));
    if (ec) throw DataError(file + ": cannot read its size: " + ec.message());
    if (size == 0 || size % kRecordBytes != 0)
      throw DataError(file + ": size " + std::to_string(size) +
                      " bytes is not a whole number of 3073-byte records (1 label + 3072 "
                      "pixels); the file is truncated or not CIFAR-10 binary");
    int64_t records = size / kRecordBytes;
    if (limit > 0) records = std::min(records, limit - set.count);

    std::unique_ptr<std::FILE, FileCloser> f(std::fopen(file.c_str(), "rb"));
    if (!f) throw DataError(file + ": cannot open");
    std::vector<uint8_t> raw(static_cast<size_t>(records * kRecordBytes));
    if (std::fread(raw.data(), 1, raw.size(), f.get()) != raw.size())
      throw DataError(file + ": read failed after the size check (file changed while reading?)");
    append_records(raw.data(), raw.size(), file, set);
  }
  return set;
}

void append_records(const uint8_t* bytes, size_t size, const std::string& name, ImageDataset& set) {
  if (size % kRecordBytes != 0)
    throw DataError(name + ": " + std::to_string(size) +
                    " bytes are not a whole number of 3073-byte records");
  const auto records = static_cast<int64_t>(size) / kRecordBytes;
  const int64_t image_bytes = set.image_bytes();
  set.pixels.resize(static_cast<size_t>((set.count + records) * image_bytes));
  set.labels.resize(static_cast<size_t>(set.count + records));
  for (int64_t r = 0; r < records; ++r) {
    const uint8_t* rec = bytes + r * kRecordBytes;
    if (rec[0] >= kClasses)
      throw DataError(name + ": record " + std::to_string(r) + " has label " +
                      std::to_string(rec[0]) + ", expected 0..9");
    set.labels[static_cast<size_t>(set.count + r)] = rec[0];
    std::copy(rec + 1, rec + kRecordBytes,
              set.pixels.begin() + static_cast<ptrdiff_t>((set.count + r) * image_bytes));
  }
  set.count += records;
}

ImageDataset load_train(const std::string& dir, int64_t limit) {
  std::vector<std::string> files;
  for (int i = 1; i <= 5; ++i)
    files.push_back((fs::path(dir) / ("data_batch_" + std::to_string(i) + ".bin")).string());
  ImageDataset set = read_files(files, limit);
  set.class_names = read_class_names(dir);
  return set;
}

ImageDataset load_test(const std::string& dir, int64_t limit) {
  ImageDataset set = read_files({(fs::path(dir) / "test_batch.bin").string()}, limit);
  set.class_names = read_class_names(dir);
  return set;
}

std::vector<std::string> read_class_names(const std::string& dir) {
  const fs::path path = fs::path(dir) / "batches.meta.txt";
  std::ifstream in(path);
  if (!in) return {};
  std::vector<std::string> names;
  std::string line;
  while (std::getline(in, line)) {
    while (!line.empty() && (line.back() == '\r' || line.back() == ' ')) line.pop_back();
    if (!line.empty()) names.push_back(line);
  }
  if (names.size() != kClasses)
    throw DataError(path.string() + ": expected 10 class names, one per line, found " +
                    std::to_string(names.size()));
  return names;
}

}  // namespace cnne::cifar10
