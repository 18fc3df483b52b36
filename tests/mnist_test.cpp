// The MNIST family (Fashion-MNIST, MNIST) in its IDX files, gzip-compressed
// or not: the reader on small files in the real format, its errors, finding
// the folder, the data.dataset key, and training and evaluating on it.
#include <gtest/gtest.h>

#include <algorithm>
#include <cstdlib>
#include <functional>
#include <regex>

#include "engine/config.h"
#include "engine/datasets.h"
#include "engine/error.h"
#include "engine/idx.h"
#include "engine/mnist.h"
#include "tests/test_util.h"

namespace cnne {
namespace {

using mnist::Family;

TEST(IdxReader, ReadsGzipAndPlainFilesAlike) {
  for (bool gz : {true, false}) {
    test::TempDir dir;
    test::make_small_fashion(dir, 7, 3, gz);
    const ImageDataset train = mnist::load_train(Family::kFashion, dir.path().string(), 0);
    ASSERT_EQ(train.count, 7) << "gz " << gz;
    EXPECT_EQ(train.channels, 1);
    EXPECT_EQ(train.height, 28);
    EXPECT_EQ(train.width, 28);
    ASSERT_EQ(train.pixels.size(), 7u * 28 * 28);
    EXPECT_EQ(train.labels[3], 1);  // (3 * 7) % 10
    EXPECT_EQ(train.labels[6], 2);
    // image i, pixel j = (i * 3 + j) % 256, rows of 28
    EXPECT_EQ(train.image(5)[0], 15);
    EXPECT_EQ(train.image(5)[28 * 9 + 4], (15 + 28 * 9 + 4) % 256);
    EXPECT_EQ(train.class_names.front(), "T-shirt/top");
    EXPECT_EQ(train.class_names.back(), "Ankle boot");
    const ImageDataset test = mnist::load_test(Family::kDigits, dir.path().string(), 0);
    EXPECT_EQ(test.count, 3);
    EXPECT_EQ(test.class_names[7], "7");
  }
}

TEST(IdxReader, LimitStopsEarlyAndSkipsTheRest) {
  test::TempDir dir;
  test::make_small_fashion(dir, 9, 2);
  const ImageDataset five = mnist::load_train(Family::kFashion, dir.path().string(), 5);
  EXPECT_EQ(five.count, 5);
  EXPECT_EQ(five.pixels.size(), 5u * 28 * 28);
  EXPECT_EQ(mnist::load_train(Family::kFashion, dir.path().string(), 50).count, 9);
}

TEST(IdxReader, OtherImageSizesAreKept) {
  test::TempDir dir;
  test::write_bytes(dir.file("images"), test::idx_images(4, 5, 6));
  test::write_gz(dir.file("labels.gz"), test::idx_labels(4));
  const ImageDataset set = idx::read_pair(dir.file("images"), dir.file("labels.gz"), 0, 10);
  EXPECT_EQ(set.count, 4);
  EXPECT_EQ(set.height, 5);
  EXPECT_EQ(set.width, 6);
  EXPECT_EQ(set.image(3)[29], (9 + 29) % 256);
}

struct BadIdx {
  const char* what;
  std::function<void(const test::TempDir&)> edit;
  const char* expected;
};
void PrintTo(const BadIdx& c, std::ostream* os) {
  *os << c.what;
}

class IdxErrors : public ::testing::TestWithParam<BadIdx> {};

// Each damaged file is one DataError naming the file and what is wrong.
TEST_P(IdxErrors, NameTheFile) {
  test::TempDir dir;
  test::make_small_fashion(dir, 4, 3);
  GetParam().edit(dir);
  try {
    mnist::load_train(Family::kFashion, dir.path().string(), 0);
    mnist::load_test(Family::kFashion, dir.path().string(), 0);
    FAIL() << "no error for " << GetParam().what;
  } catch (const DataError& e) {
    EXPECT_NE(std::string(e.what()).find(GetParam().expected), std::string::npos) << e.what();
  }
}

std::vector<uint8_t> with_byte(std::vector<uint8_t> bytes, size_t at, uint8_t value) {
  bytes[at] = value;
  return bytes;
}
std::vector<uint8_t> cut(std::vector<uint8_t> bytes, size_t drop) {
  bytes.resize(bytes.size() - drop);
  return bytes;
}

INSTANTIATE_TEST_SUITE_P(
    Table, IdxErrors,
    ::testing::Values(
        BadIdx{"missing labels",
               [](auto& d) { std::filesystem::remove(d.file("train-labels-idx1-ubyte.gz")); },
               "train-labels-idx1-ubyte.gz: missing IDX file"},
        BadIdx{"labels given as images",
               [](auto& d) {
                 test::write_gz(d.file("t10k-labels-idx1-ubyte.gz"), test::idx_images(3, 28, 28));
               },
               "t10k-labels-idx1-ubyte.gz: magic bytes 0x00000803, expected 0x00000801"},
        BadIdx{"not IDX (a CIFAR-10 file)",
               [](auto& d) {
                 test::write_bytes(d.file("train-images-idx3-ubyte.gz"), test::cifar_records(2));
               },
               "train-images-idx3-ubyte.gz: magic bytes"},
        BadIdx{"float values",
               [](auto& d) {
                 test::write_gz(d.file("train-images-idx3-ubyte.gz"),
                                with_byte(test::idx_images(4, 28, 28), 2, 0x0D));
               },
               "magic bytes 0x00000d03, expected 0x00000803 (IDX images: unsigned bytes"},
        BadIdx{"header cut short",
               [](auto& d) {
                 test::write_gz(d.file("train-images-idx3-ubyte.gz"), {0, 0, 8, 3, 0, 0});
               },
               "train-images-idx3-ubyte.gz: the IDX header is truncated"},
        BadIdx{"empty file",
               [](auto& d) { test::write_gz(d.file("train-images-idx3-ubyte.gz"), {}); },
               "shorter than an IDX header"},
        BadIdx{"truncated data",
               [](auto& d) {
                 test::write_gz(d.file("train-images-idx3-ubyte.gz"),
                                cut(test::idx_images(4, 28, 28), 100));
               },
               "truncated: the header promises 3136 data bytes, the file holds 3036"},
        BadIdx{"truncated gzip stream",
               [](auto& d) {
                 test::write_gz(d.file("t10k-images-idx3-ubyte.gz"), test::idx_images(3, 28, 28));
                 const auto gz = test::read_bytes(d.file("t10k-images-idx3-ubyte.gz"));
                 test::write_bytes(d.file("t10k-images-idx3-ubyte.gz"), cut(gz, 30));
               },
               "t10k-images-idx3-ubyte.gz: "},
        BadIdx{"damaged gzip stream",
               [](auto& d) {
                 auto gz = test::read_bytes(d.file("train-labels-idx1-ubyte.gz"));
                 gz[gz.size() - 6] ^= 0xFF;  // the CRC
                 test::write_bytes(d.file("train-labels-idx1-ubyte.gz"), gz);
               },
               "train-labels-idx1-ubyte.gz: cannot read"},
        BadIdx{"trailing bytes",
               [](auto& d) {
                 auto b = test::idx_labels(4);
                 b.push_back(1);
                 test::write_gz(d.file("train-labels-idx1-ubyte.gz"), b);
               },
               "train-labels-idx1-ubyte.gz: holds more bytes than its IDX header describes"},
        BadIdx{"counts differ",
               [](auto& d) {
                 test::write_gz(d.file("train-labels-idx1-ubyte.gz"), test::idx_labels(5));
               },
               "train-labels-idx1-ubyte.gz: 5 labels, but"},
        BadIdx{"label out of range",
               [](auto& d) {
                 test::write_gz(d.file("train-labels-idx1-ubyte.gz"),
                                with_byte(test::idx_labels(4), 8 + 2, 10));
               },
               "train-labels-idx1-ubyte.gz: label 2 is 10, expected 0..9"},
        BadIdx{"no images",
               [](auto& d) {
                 test::write_gz(d.file("train-images-idx3-ubyte.gz"), test::idx_images(0, 28, 28));
               },
               "holds no images"},
        BadIdx{"a huge claimed count",  // memory follows the data, not the header
               [](auto& d) {
                 test::write_gz(d.file("train-images-idx3-ubyte.gz"),
                                with_byte(test::idx_images(4, 28, 28), 4, 0x7F));
                 test::write_gz(d.file("train-labels-idx1-ubyte.gz"),
                                with_byte(test::idx_labels(4), 4, 0x7F));
               },
               "truncated: the header promises"},
        BadIdx{"zero-width images",
               [](auto& d) {
                 test::write_gz(d.file("train-images-idx3-ubyte.gz"), test::idx_images(4, 28, 0));
               },
               "images of 28x0 pixels, expected 1..4096 on each side"}));

TEST(MnistLocate, FindsTheFolderItsSubfolderOrTorchvisionsLayout) {
  test::TempDir dir;
  std::filesystem::create_directories(dir.path() / "FashionMNIST/raw");
  test::write_gz(dir.file("FashionMNIST/raw/t10k-images-idx3-ubyte.gz"),
                 test::idx_images(1, 28, 28));
  EXPECT_EQ(mnist::locate(Family::kFashion, dir.path().string()),
            (dir.path() / "FashionMNIST/raw").string());
  EXPECT_EQ(datasets::locate("fashion-mnist", (dir.path() / "FashionMNIST/raw").string()),
            (dir.path() / "FashionMNIST/raw").string());
  test::TempDir digits;
  std::filesystem::create_directories(digits.path() / "mnist");
  test::write_bytes(digits.file("mnist/train-images-idx3-ubyte"), test::idx_images(1, 28, 28));
  EXPECT_EQ(datasets::locate("mnist", digits.path().string()), (digits.path() / "mnist").string());
}

TEST(MnistLocate, AFolderWithoutTheFilesSaysHowToGetThem) {
  test::TempDir empty;
  try {
    datasets::locate("fashion-mnist", empty.path().string());
    FAIL();
  } catch (const DataError& e) {
    const std::string m = e.what();
    EXPECT_NE(m.find("holds none of t10k-images-idx3-ubyte.gz"), std::string::npos) << m;
    EXPECT_NE(m.find("dataset-fashion-mnist"), std::string::npos) << m;
  }
  test::TempDir cifar;  // CIFAR-10 files are no Fashion-MNIST, and the reverse
  test::make_small_cifar(cifar, 1, 1);
  EXPECT_THROW(datasets::locate("fashion-mnist", cifar.path().string()), DataError);
  test::TempDir fashion;
  test::make_small_fashion(fashion, 1, 1);
  EXPECT_THROW(datasets::locate("cifar10", fashion.path().string()), DataError);
}

nlohmann::json read_config(const std::string& name) {
  return nlohmann::json::parse(test::read_text(test::source_dir() + "/configs/" + name), nullptr,
                               true, true);
}

Config config_with_data(const std::string& data_json) {
  nlohmann::json j = read_config("fashion_mnist.json");
  j["data"] = nlohmann::json::parse(data_json);
  return Config::from_json(j, "fashion.json");
}

std::string config_error(const std::string& data_json) {
  try {
    config_with_data(data_json);
  } catch (const ConfigError& e) {
    return e.what();
  }
  return "";
}

TEST(DatasetConfig, TheDataSetSetsTheChannelsOfNormalizeAndTheClasses) {
  const Config fashion = config_with_data(R"({"dataset": "fashion-mnist"})");
  EXPECT_EQ(fashion.data.mean, std::vector<double>{0.5});
  EXPECT_EQ(fashion.data.std, std::vector<double>{0.5});
  const Config cifar = config_with_data(R"({})");
  EXPECT_EQ(cifar.data.dataset, "cifar10");
  EXPECT_EQ(cifar.data.mean.size(), 3u);
  // round trip through the checkpoint's stored config
  const Config again = Config::from_json(fashion.to_json(), "again");
  EXPECT_EQ(again.data.dataset, "fashion-mnist");
  EXPECT_EQ(again.data.mean, std::vector<double>{0.5});

  EXPECT_NE(config_error(R"({"dataset": "imagenet"})")
                .find("fashion.json: data: key 'dataset' is 'imagenet', expected one of cifar10, "
                      "cifar100, fashion-mnist, mnist"),
            std::string::npos)
      << config_error(R"({"dataset": "imagenet"})");
  const std::string three =
      config_error(R"({"dataset": "mnist", "normalize": {"mean": [0.1, 0.2, 0.3], "std": [1]}})");
  EXPECT_NE(three.find("'mean' must hold 1 number (the gray channel)"), std::string::npos) << three;
  const std::string one = config_error(R"({"normalize": {"mean": [0.1], "std": [1]}})");
  EXPECT_NE(one.find("must hold 3 numbers (R, G, B)"), std::string::npos) << one;
  const std::string classes = config_error(R"({"dataset": "mnist", "classes": ["a", "b"]})");
  EXPECT_NE(classes.find("must name the 10 MNIST classes, got 2"), std::string::npos) << classes;
}

// Train and eval on a small Fashion-MNIST folder through the CLI: the
// per-class lines carry its class names, eval reads the data set from the
// checkpoint's config, and a network for other images is refused by name.
TEST(DatasetCli, TrainsAndEvaluatesOnFashionMnist) {
  test::TempDir data, out;
  test::make_small_fashion(data, 40, 20);
  const std::string ckpt = out.file("fashion.safetensors");
  const test::RunResult train = test::run_cli("train " + test::source_dir() +
                                              "/configs/fashion_mnist.json --device cpu "
                                              "--epochs 1 --log-every 5 --data " +
                                              data.path().string() + " --out " + ckpt);
  ASSERT_EQ(train.exit_code, 0) << train.err << train.out;
  EXPECT_NE(train.out.find("Data: 40 training and 20 test images from " + data.path().string()),
            std::string::npos)
      << train.out;
  EXPECT_NE(train.out.find("Conv2d(1, 6, kernel_size=(5, 5), stride=(1, 1), padding=(2, 2))"),
            std::string::npos);
  EXPECT_NE(train.out.find("[Epoch: 1, Batch: 10] Loss: "), std::string::npos);
  EXPECT_NE(train.out.find("Accuracy of Ankle boot : "), std::string::npos) << train.out;
  static const std::regex total("Accuracy of the network on the 20 test images: [0-9.]+%");
  std::smatch m;
  ASSERT_TRUE(std::regex_search(train.out, m, total)) << train.out;
  const std::string train_line = m.str();

  const test::RunResult eval =
      test::run_cli("eval --device cpu --checkpoint " + ckpt + " --data " + data.path().string());
  ASSERT_EQ(eval.exit_code, 0) << eval.err;
  ASSERT_TRUE(std::regex_search(eval.out, m, total)) << eval.out;
  EXPECT_EQ(m.str(), train_line);
  EXPECT_NE(eval.out.find("Accuracy of T-shirt/top : "), std::string::npos);

  // the tutorial's CIFAR-10 network on Fashion-MNIST's images
  nlohmann::json j = read_config("simplecnn.json");
  j["data"] = {{"dataset", "fashion-mnist"}};
  test::TempDir cfg;
  test::write_text(cfg.file("wrong.json"), j.dump());
  const test::RunResult wrong = test::run_cli("train " + cfg.file("wrong.json") +
                                              " --device cpu --data " + data.path().string());
  EXPECT_EQ(wrong.exit_code, 1);
  EXPECT_NE(wrong.err.find("network input is [3, 32, 32] but the images are [1, 28, 28]"),
            std::string::npos)
      << wrong.err;
  EXPECT_EQ(std::count(wrong.err.begin(), wrong.err.end(), '\n'), 1) << wrong.err;
}

// The whole recipe of configs/fashion_mnist.json on the real Fashion-MNIST
// (Debian's dataset-fashion-mnist, which tools/setup.sh installs): LeNet-5
// with the tutorial's recipe reaches about 88% after its 2 epochs; one epoch
// on 30,000 images is enough for 80%.
TEST(DatasetEndToEnd, FashionMnistOnTheRealDataReachesItsBand) {
  const std::string data = test::real_fashion_dir();
  if (data.empty())
    GTEST_SKIP() << "real Fashion-MNIST not found: apt-get install dataset-fashion-mnist or set "
                    "CNNE_TEST_FASHION_DATA";
  test::TempDir out;
  const test::RunResult train = test::run_cli("train " + test::source_dir() +
                                              "/configs/fashion_mnist.json --device cpu --epochs 1 "
                                              "--train-limit 30000 --data " +
                                              data + " --out " + out.file("f.safetensors"));
  ASSERT_EQ(train.exit_code, 0) << train.err;
  static const std::regex total("Accuracy of the network on the 10000 test images: ([0-9.]+)%");
  std::smatch m;
  ASSERT_TRUE(std::regex_search(train.out, m, total)) << train.out;
  std::cout << "fashion_mnist.json, 1 epoch of 30,000 images on the CPU: " << m.str() << "\n";
  EXPECT_GE(std::stod(m[1].str()), 80.0) << train.out;
  EXPECT_LE(std::stod(m[1].str()), 95.0) << train.out;
}

}  // namespace
}  // namespace cnne
