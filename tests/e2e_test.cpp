// Whole-program test on the real CIFAR-10 (DESIGN: testing): the tutorial's
// full recipe on the CPU reaches the tutorial's accuracy band, and eval of the
// saved checkpoint prints the same accuracy. Skips when the data is absent
// (.ci/run extracts it from ../shared/data/cifar10; CNNE_TEST_DATA overrides).
#include <gtest/gtest.h>

#include <regex>

#include "tests/test_util.h"

namespace cnne::test {

namespace {

double accuracy_in(const std::string& out, std::string* line) {
  static const std::regex re("Accuracy of the network on the 10000 test images: ([0-9.]+)%");
  std::smatch m;
  if (!std::regex_search(out, m, re)) return -1;
  *line = m.str();
  return std::stod(m[1].str());
}

TEST(EndToEnd, TutorialOnRealCifar10ReachesItsAccuracyBand) {
  const std::string data = real_cifar_dir();
  if (data.empty())
    GTEST_SKIP() << "real CIFAR-10 not found: set CNNE_TEST_DATA or extract it into "
                    "data/cifar-10-batches-bin (see README)";
  TempDir out;
  const std::string ckpt = out.file("tutorial.safetensors");
  const RunResult train = run_cli("train " + source_dir() +
                                  "/configs/simplecnn.json --device cpu "
                                  "--data " +
                                  data + " --out " + ckpt);
  ASSERT_EQ(train.exit_code, 0) << train.err;
  std::string train_line, eval_line;
  const double accuracy = accuracy_in(train.out, &train_line);
  std::cout << "tutorial recipe on the CPU: " << train_line << "\n";
  // PyTorch reaches about 54% with this recipe; seeds spread it by a point or two.
  EXPECT_GE(accuracy, 48.0) << train.out;
  EXPECT_LE(accuracy, 62.0) << train.out;
  EXPECT_NE(train.out.find("[Epoch: 2, Batch: 12000] Loss: "), std::string::npos);

  const RunResult eval = run_cli("eval --device cpu --checkpoint " + ckpt + " --data " + data);
  ASSERT_EQ(eval.exit_code, 0) << eval.err;
  accuracy_in(eval.out, &eval_line);
  EXPECT_EQ(eval_line, train_line);
}

// The same recipe with bf16 activations (the CPU emulates the GPU's mixed
// precision, Note [mixed precision]): the same band, and eval in bf16 (from
// the checkpoint's config) prints the same accuracy.
TEST(EndToEnd, TutorialInBf16ReachesTheSameBand) {
  const std::string data = real_cifar_dir();
  if (data.empty()) GTEST_SKIP() << "real CIFAR-10 not found (see the test above)";
  TempDir out;
  const std::string ckpt = out.file("bf16.safetensors");
  const RunResult train =
      run_cli("train --precision bf16 --device cpu --data " + data + " --out " + ckpt);
  ASSERT_EQ(train.exit_code, 0) << train.err;
  std::string train_line, eval_line;
  const double accuracy = accuracy_in(train.out, &train_line);
  std::cout << "tutorial recipe in bf16 on the CPU: " << train_line << "\n";
  EXPECT_GE(accuracy, 48.0) << train.out;
  EXPECT_LE(accuracy, 62.0) << train.out;
  const RunResult eval = run_cli("eval --device cpu --checkpoint " + ckpt + " --data " + data);
  ASSERT_EQ(eval.exit_code, 0) << eval.err;
  accuracy_in(eval.out, &eval_line);
  EXPECT_EQ(eval_line, train_line);
}

}  // namespace
}  // namespace cnne::test
