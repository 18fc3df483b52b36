// CIFAR-100 (data.dataset "cifar100"): the reader on small files in the real
// binary format (coarse and fine label bytes, then the pixels), its errors,
// and a training run through the CLI with a 100-class network.
#include <gtest/gtest.h>

#include <filesystem>
#include <regex>

#include "engine/cifar100.h"
#include "engine/config.h"
#include "engine/error.h"
#include "tests/test_util.h"

namespace cnne::test {
namespace {

// count records from index first: coarse label i % 20, fine label (i * 37) % 100,
// pixel j = (i * 5 + j) % 256.
std::vector<uint8_t> cifar100_records(int64_t count, int64_t first = 0) {
  std::vector<uint8_t> bytes;
  for (int64_t i = first; i < first + count; ++i) {
    bytes.push_back(static_cast<uint8_t>(i % 20));
    bytes.push_back(static_cast<uint8_t>((i * 37) % 100));
    for (int64_t j = 0; j < 3072; ++j) bytes.push_back(static_cast<uint8_t>((i * 5 + j) % 256));
  }
  return bytes;
}

std::string fine_names() {
  std::string text;
  for (int c = 0; c < 100; ++c)
    text += (c == 1 ? "aquarium_fish" : "class" + std::to_string(c)) + "\n";
  return text;
}

// The extracted tarball's layout: DIR/cifar-100-binary/{train,test}.bin and the names.
std::string make_cifar100(const TempDir& dir, int64_t train, int64_t test) {
  std::filesystem::create_directory(dir.path() / "cifar-100-binary");
  write_bytes(dir.file("cifar-100-binary/train.bin"), cifar100_records(train));
  write_bytes(dir.file("cifar-100-binary/test.bin"), cifar100_records(test, 500));
  write_text(dir.file("cifar-100-binary/fine_label_names.txt"), fine_names());
  write_text(dir.file("cifar-100-binary/coarse_label_names.txt"), "superclass\n");
  return dir.file("cifar-100-binary");
}

TEST(Cifar100Reader, ReadsTheFineLabelsAndThePixelsAfterBothLabelBytes) {
  TempDir dir;
  make_cifar100(dir, 7, 3);
  const std::string folder = cifar100::locate(dir.path().string());
  EXPECT_EQ(folder, dir.file("cifar-100-binary"));
  const ImageDataset train = cifar100::load_train(folder, 0);
  ASSERT_EQ(train.count, 7);
  EXPECT_EQ(train.channels, 3);
  EXPECT_EQ(train.labels[3], (3 * 37) % 100);  // the fine label, not the coarse 3
  EXPECT_EQ(train.image(3)[0], 15);            // the first pixel, after the two label bytes
  EXPECT_EQ(train.image(3)[3071], (15 + 3071) % 256);
  ASSERT_EQ(train.class_names.size(), 100u);
  EXPECT_EQ(train.class_names[1], "aquarium_fish");
  const ImageDataset test = cifar100::load_test(folder, 2);
  EXPECT_EQ(test.count, 2);
  EXPECT_EQ(test.labels[0], (500 * 37) % 100);
}

TEST(Cifar100Reader, BadFilesAreErrorsNamingThem) {
  TempDir dir;
  const std::string folder = make_cifar100(dir, 4, 2);
  std::vector<uint8_t> bytes = cifar100_records(4);
  bytes.pop_back();
  write_bytes(folder + "/train.bin", bytes);
  try {
    cifar100::load_train(folder, 0);
    ADD_FAILURE() << "no error";
  } catch (const DataError& e) {
    EXPECT_NE(std::string(e.what()).find("3074-byte records (2 labels + 3072 pixels)"),
              std::string::npos)
        << e.what();
  }
  bytes = cifar100_records(4);
  bytes[3074 * 2 + 1] = 100;  // record 2's fine label
  write_bytes(folder + "/train.bin", bytes);
  try {
    cifar100::load_train(folder, 0);
    ADD_FAILURE() << "no error";
  } catch (const DataError& e) {
    EXPECT_NE(std::string(e.what()).find("record 2 has label 100, expected 0..99"),
              std::string::npos)
        << e.what();
  }
  write_text(folder + "/fine_label_names.txt", "apple\npear\n");
  EXPECT_THROW(cifar100::load_test(folder, 0), DataError);
  TempDir empty;
  try {
    cifar100::locate(empty.path().string());
    ADD_FAILURE() << "no error";
  } catch (const DataError& e) {
    EXPECT_NE(std::string(e.what()).find("cifar-100-binary.tar.gz"), std::string::npos) << e.what();
  }
}

TEST(Cifar100Runs, TrainsAndEvaluatesAHundredClassNetwork) {
  TempDir data, out;
  make_cifar100(data, 40, 20);
  nlohmann::json config = parse_json_text(Config::embedded_default(), "simplecnn.json");
  config["data"]["dataset"] = "cifar100";
  config["data"].erase("classes");  // the tutorial's ten names; the data's own file names 100
  const std::string ten = out.file("ten.json");
  write_text(ten, config.dump());
  const RunResult wrong = run_cli("train " + ten + " --device cpu --data " + data.path().string());
  EXPECT_NE(wrong.exit_code, 0);
  EXPECT_NE(wrong.err.find("outputs 10 logits but CIFAR-100 has 100 classes"), std::string::npos)
      << wrong.err;
  for (auto& layer : config["network"]["layers"])
    if (layer["name"] == "fc3") layer["out_features"] = 100;
  write_text(out.file("c.json"), config.dump());
  const std::string ckpt = out.file("w.safetensors");
  const RunResult r = run_cli("train " + out.file("c.json") + " --device cpu --epochs 1 --data " +
                              data.path().string() + " --out " + ckpt);
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_NE(r.out.find("Accuracy of the network on the 20 test images: "), std::string::npos)
      << r.out;
  EXPECT_NE(r.out.find("Accuracy of aquarium_fish : "), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("Confusion matrix: 100 classes, too many to print"), std::string::npos);
  const RunResult eval =
      run_cli("eval --device cpu --checkpoint " + ckpt + " --data " + data.path().string());
  ASSERT_EQ(eval.exit_code, 0) << eval.err;
  EXPECT_NE(eval.out.find("aquarium_fish"), std::string::npos);
  // Top-5 accuracy, the usual CIFAR-100 number: the same in both, at least the top-1.
  const auto percent = [](const std::string& text, const std::string& what) {
    std::smatch m;
    const std::regex line(what + " of the network on the 20 test images: ([0-9.]+)%");
    return std::regex_search(text, m, line) ? std::stod(m[1].str()) : -1.0;
  };
  const double top5 = percent(eval.out, "Top-5 accuracy"), top1 = percent(eval.out, "Accuracy");
  EXPECT_GE(top5, top1) << eval.out;
  EXPECT_GE(top1, 0.0) << eval.out;
  EXPECT_EQ(percent(r.out, "Top-5 accuracy"), top5) << r.out;
  // The checkpoint's config carries the data's names: predict needs no data folder for them.
  std::string ppm = "P6\n32 32\n255\n";
  for (int i = 0; i < 3072; ++i) ppm += static_cast<char>(i * 13 % 256);
  write_text(out.file("x.ppm"), ppm);
  const RunResult predict =
      run_cli("predict --device cpu --top 100 --checkpoint " + ckpt + " " + out.file("x.ppm"));
  ASSERT_EQ(predict.exit_code, 0) << predict.err;
  EXPECT_NE(predict.out.find("aquarium_fish"), std::string::npos) << predict.out;
}

}  // namespace
}  // namespace cnne::test
