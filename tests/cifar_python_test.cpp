// CIFAR-10 and CIFAR-100 in their Python version (engine/cifar_python.h):
// files pickled by Python 2 as the originals are (written here and by
// tools/make_cifar_python_fixtures.py, checked there against Python's pickle)
// and by Python 3 and numpy at protocols 2, 4 and 5; the folders torchvision
// leaves; and every way such a file can be wrong.
#include <gtest/gtest.h>

#include <filesystem>

#include "engine/cifar10.h"
#include "engine/cifar100.h"
#include "engine/cifar_python.h"
#include "engine/datasets.h"
#include "engine/error.h"
#include "tests/cifar_python_files.h"
#include "tests/test_util.h"

namespace cnne::test {
namespace {

namespace fs = std::filesystem;
using cifar_python::kCifar100Python;
using cifar_python::kCifar10Python;

std::string fixture(const std::string& name) {
  return fixtures_dir() + "/cifar_python/" + name;
}

// The images the fixture script writes: pixel (i, j) = (i * 131 + j * 7) % 256.
void expect_fixture_pixels(const ImageDataset& set) {
  ASSERT_EQ(set.count, 3);
  ASSERT_EQ(set.pixels.size(), 3u * 3072);
  for (int64_t i = 0; i < 3; ++i)
    for (int64_t j = 0; j < 3072; ++j)
      ASSERT_EQ(set.image(i)[j], (i * 131 + j * 7) % 256) << "image " << i << " byte " << j;
}

TEST(CifarPythonFiles, EveryPicklingOfABatchReadsTheSame) {
  for (const char* name : {"py2_data_batch", "py3_p2_data_batch", "py3_p4_data_batch",
                           "py3_p5_data_batch", "py3_p4_bytes_keys"}) {
    SCOPED_TRACE(name);
    const ImageDataset set = cifar_python::read_batches({fixture(name)}, 0, kCifar10Python);
    expect_fixture_pixels(set);
    EXPECT_EQ(set.labels, (std::vector<int32_t>{3, 8, 0}));
  }
  const ImageDataset fine =
      cifar_python::read_batches({fixture("py3_p4_cifar100")}, 0, kCifar100Python);
  expect_fixture_pixels(fine);
  EXPECT_EQ(fine.labels, (std::vector<int32_t>{19, 99, 0}));
}

TEST(CifarPythonFiles, TheMetaFileNamesTheClasses) {
  const std::vector<std::string> names =
      cifar_python::read_names(fixture("py2_batches.meta"), kCifar10Python);
  EXPECT_EQ(names, (std::vector<std::string>{"airplane", "automobile", "bird", "cat", "deer", "dog",
                                             "frog", "horse", "ship", "truck"}));
  EXPECT_TRUE(cifar_python::read_names("/nonexistent/batches.meta", kCifar10Python).empty());
}

TEST(CifarPythonFiles, AFolderReadsAsTheBinaryFilesOfTheSameImages) {
  TempDir binary, python;
  make_small_cifar(binary, 6, 5);
  make_small_cifar_python(python, 6, 5);
  EXPECT_FALSE(cifar10::holds_python_version(binary.path().string()));
  EXPECT_TRUE(cifar10::holds_python_version(python.path().string()));
  for (int64_t limit : {0, 4, 13}) {
    SCOPED_TRACE(limit);
    const ImageDataset a = cifar10::load_train(binary.path().string(), limit);
    const ImageDataset b = cifar10::load_train(python.path().string(), limit);
    EXPECT_EQ(b.count, limit ? limit : 30);
    EXPECT_EQ(a.pixels, b.pixels);
    EXPECT_EQ(a.labels, b.labels);
  }
  const ImageDataset test = cifar10::load_test(python.path().string(), 0);
  EXPECT_EQ(test.pixels, cifar10::load_test(binary.path().string(), 0).pixels);
  ASSERT_EQ(test.class_names.size(), 10u);
  EXPECT_EQ(test.class_names[1], "automobile");
}

TEST(CifarPythonFiles, TheTorchvisionFolderIsFoundInsideItsParent) {
  TempDir root;  // ./data as torchvision.datasets.CIFAR10(root="./data", download=True) leaves it
  fs::create_directories(root.path() / "cifar-10-batches-py");
  write_bytes((root.path() / "cifar-10-batches-py" / "test_batch").string(),
              py2_cifar_batch(cifar_records(2)));
  EXPECT_EQ(datasets::locate("cifar10", root.path().string()),
            (root.path() / "cifar-10-batches-py").string());
  // Both versions in one parent: the binary one is taken.
  fs::create_directories(root.path() / "cifar-10-batches-bin");
  write_bytes((root.path() / "cifar-10-batches-bin" / "test_batch.bin").string(), cifar_records(2));
  EXPECT_EQ(datasets::locate("cifar10", root.path().string()),
            (root.path() / "cifar-10-batches-bin").string());

  TempDir hundred;
  fs::create_directories(hundred.path() / "cifar-100-python");
  const std::string folder = (hundred.path() / "cifar-100-python").string();
  for (const char* name : {"train", "test"})
    write_bytes(folder + "/" + name, py2_cifar_batch(cifar_records(4), "fine_labels"));
  std::vector<std::string> names;
  for (int c = 0; c < 100; ++c) names.push_back("class" + std::to_string(c));
  write_bytes(folder + "/meta", py2_names("fine_label_names", names));
  EXPECT_EQ(datasets::locate("cifar100", hundred.path().string()), folder);
  const ImageDataset train = datasets::load_train("cifar100", folder, 0);
  EXPECT_EQ(train.count, 4);
  EXPECT_EQ(train.labels, (std::vector<int32_t>{0, 1, 2, 3}));
  ASSERT_EQ(train.class_names.size(), 100u);
  EXPECT_EQ(train.class_names[99], "class99");
}

// The DataError message of reading `bytes` as a CIFAR-10 batch named "b".
std::string batch_error(const std::vector<uint8_t>& bytes) {
  ImageDataset set;
  try {
    cifar_python::append_batch(bytes, "b", 0, kCifar10Python, set);
  } catch (const DataError& e) {
    return e.what();
  }
  return "(no error)";
}

// A batch dict with `labels` and a data array of `rows` x `cols` bytes.
std::vector<uint8_t> batch_with(int64_t rows, int64_t cols, const std::vector<int64_t>& labels,
                                const std::string& dtype = "u1", bool fortran = false) {
  Py2Pickler p;
  p.begin_dict();
  p.string("data");
  p.uint8_matrix(rows, cols, std::string(static_cast<size_t>(rows * cols), '\x07'), dtype, fortran);
  p.string("labels");
  p.begin_list();
  for (int64_t l : labels) p.integer(l);
  p.end_list();
  p.end_dict();
  return p.finish();
}

TEST(CifarPythonFiles, BadBatchesAreOneLineErrorsNamingTheFile) {
  const std::vector<uint8_t> good = batch_with(2, 3072, {1, 2});
  ASSERT_EQ(batch_error(good), "(no error)");
  struct Case {
    std::vector<uint8_t> bytes;
    std::string expected;
  };
  std::vector<uint8_t> truncated(good.begin(), good.begin() + 3000);
  std::vector<uint8_t> no_stop(good.begin(), good.end() - 1);
  Py2Pickler no_data;
  no_data.begin_dict();
  no_data.string("labels");
  no_data.begin_list();
  no_data.end_list();
  no_data.end_dict();
  Py2Pickler a_list;
  a_list.begin_list();
  a_list.end_list();
  const std::vector<Case> cases = {
      {{}, "b: not a binary pickle"},
      {{'h', 'e', 'l', 'l', 'o'}, "b: not a binary pickle"},
      {truncated, "b: pickle is truncated inside an opcode's argument"},
      {no_stop, "b: pickle ends without STOP"},
      {no_data.finish(), "b: has no 'data' entry (not a CIFAR-10 Python-version file?)"},
      {a_list.finish(), "b: holds a list, expected a pickled dict"},
      {batch_with(2, 1024, {1, 2}), "b: 'data' has shape (2, 1024), expected (images, 3072)"},
      {batch_with(2, 3072, {1, 2}, "<i8"), "b: 'data' has dtype '<i8', expected uint8 ('u1')"},
      {batch_with(2, 3072, {1, 2}, "u1", true),
       "b: 'data' is a Fortran-ordered array, expected C order"},
      {batch_with(2, 3072, {1}), "b: 'labels' holds 1 labels for 2 images"},
      {batch_with(2, 3072, {1, 10}), "b: 'labels'[1] is 10, expected 0..9"},
      {batch_with(2, 3072, {-1, 0}), "b: 'labels'[0] is -1, expected 0..9"},
  };
  for (const Case& c : cases) {
    const std::string message = batch_error(c.bytes);
    EXPECT_EQ(message.rfind(c.expected, 0), 0u)
        << "expected '" << c.expected << "', got '" << message << "'";
    EXPECT_EQ(message.find('\n'), std::string::npos) << message;
  }
}

TEST(CifarPythonFiles, AShortDataStringIsAnError) {
  Py2Pickler p;
  p.begin_dict();
  p.string("data");
  p.uint8_matrix(2, 3072, std::string(3072, '\0'));  // one image's bytes for two
  p.string("labels");
  p.begin_list();
  p.integer(0);
  p.integer(1);
  p.end_list();
  p.end_dict();
  EXPECT_EQ(batch_error(p.finish()), "b: 'data' holds 3072 bytes for its 2 x 3072 shape");
}

TEST(CifarPythonFiles, BadMetaFilesAndMissingBatchesAreErrors) {
  TempDir dir;
  write_bytes(dir.file("batches.meta"), py2_names("label_names", {"a", "b"}));
  try {
    cifar_python::read_names(dir.file("batches.meta"), kCifar10Python);
    ADD_FAILURE() << "no error";
  } catch (const DataError& e) {
    EXPECT_EQ(std::string(e.what()),
              dir.file("batches.meta") + ": 'label_names' holds 2 names, expected 10");
  }
  // A folder with test_batch but not the training batches.
  write_bytes(dir.file("test_batch"), py2_cifar_batch(cifar_records(2)));
  write_bytes(dir.file("batches.meta"),
              py2_names("label_names", {"0", "1", "2", "3", "4", "5", "6", "7", "8", "9"}));
  try {
    cifar10::load_train(dir.path().string(), 0);
    ADD_FAILURE() << "no error";
  } catch (const DataError& e) {
    EXPECT_EQ(std::string(e.what()), dir.file("data_batch_1") + ": missing CIFAR-10 file");
  }
}

TEST(CifarPythonRuns, TrainsOnTheFolderTorchvisionDownloads) {
  TempDir root;
  fs::create_directories(root.path() / "cifar-10-batches-py");
  TempDir scratch;
  make_small_cifar_python(scratch, 8, 12);
  for (const auto& entry : fs::directory_iterator(scratch.path()))
    fs::copy_file(entry.path(), root.path() / "cifar-10-batches-py" / entry.path().filename());
  const RunResult r = run_cli("train --device cpu --epochs 1 --log-every 5 --data " +
                              root.path().string() + " --out " + scratch.file("w.safetensors"));
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_NE(r.out.find("Accuracy of the network on the 12 test images: "), std::string::npos)
      << r.out;
  EXPECT_NE(r.out.find("Accuracy of car   : "), std::string::npos) << r.out;  // the config's names
}

}  // namespace
}  // namespace cnne::test
