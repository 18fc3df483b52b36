#include "tests/cifar_python_files.h"

#include <stdexcept>

namespace cnne::test {

std::vector<uint8_t> py2_cifar_batch(const std::vector<uint8_t>& records,
                                     const std::string& label_key) {
  if (records.size() % 3073) throw std::invalid_argument("py2_cifar_batch: not whole records");
  const auto count = static_cast<int64_t>(records.size() / 3073);
  std::string pixels;
  pixels.reserve(static_cast<size_t>(count) * 3072);
  for (int64_t i = 0; i < count; ++i)
    pixels.append(reinterpret_cast<const char*>(records.data()) + i * 3073 + 1, 3072);
  Py2Pickler p;
  p.begin_dict();
  p.string("data");
  p.uint8_matrix(count, 3072, pixels);
  p.string(label_key);
  p.begin_list();
  for (int64_t i = 0; i < count; ++i) p.integer(records[static_cast<size_t>(i) * 3073]);
  p.end_list();
  p.string("batch_label");
  p.string("training batch 1 of 5");
  p.end_dict();
  return p.finish();
}

std::vector<uint8_t> py2_names(const std::string& key, const std::vector<std::string>& names) {
  Py2Pickler p;
  p.begin_dict();
  p.string(key);
  p.begin_list();
  for (const std::string& n : names) p.string(n);
  p.end_list();
  p.string("num_vis");
  p.integer(3072);
  p.end_dict();
  return p.finish();
}

void make_small_cifar_python(const TempDir& dir, int64_t per_file, int64_t test) {
  for (int i = 1; i <= 5; ++i)
    write_bytes(dir.file("data_batch_" + std::to_string(i)),
                py2_cifar_batch(cifar_records(per_file, (i - 1) * per_file)));
  write_bytes(dir.file("test_batch"), py2_cifar_batch(cifar_records(test, 500)));
  write_bytes(dir.file("batches.meta"),
              py2_names("label_names", {"airplane", "automobile", "bird", "cat", "deer", "dog",
                                        "frog", "horse", "ship", "truck"}));
}

}  // namespace cnne::test
