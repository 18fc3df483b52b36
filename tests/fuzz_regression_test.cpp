// Replays every input of the fuzz corpora (tests/fuzz/corpus/<target>/,
// seeds and any crash reproducers the fuzzers found) through the fuzz target
// bodies in the normal build: each must end in success or a cnne::Error.
#include <gtest/gtest.h>

#include <filesystem>

#include "tests/fuzz/fuzz_targets.h"
#include "tests/test_util.h"

namespace cnne::test {
namespace {

void replay(const std::string& target, void (*one)(const uint8_t*, size_t)) {
  const std::filesystem::path dir =
      std::filesystem::path(fixtures_dir()) / ".." / "fuzz" / "corpus" / target;
  int inputs = 0;
  for (const auto& entry : std::filesystem::directory_iterator(dir)) {
    const std::vector<uint8_t> bytes = read_bytes(entry.path().string());
    SCOPED_TRACE(entry.path().string());
    EXPECT_NO_THROW(one(bytes.data(), bytes.size()));
    ++inputs;
  }
  EXPECT_GT(inputs, 0) << "empty corpus " << dir;
}

TEST(FuzzRegressions, Config) {
  replay("config", fuzz::config_one);
}
TEST(FuzzRegressions, Cifar) {
  replay("cifar", fuzz::cifar_one);
}
TEST(FuzzRegressions, Idx) {
  replay("idx", fuzz::idx_one);
}
TEST(FuzzRegressions, Checkpoint) {
  replay("checkpoint", fuzz::checkpoint_one);
}
TEST(FuzzRegressions, Torch) {
  replay("torch", fuzz::torch_one);
}
TEST(FuzzRegressions, Image) {
  replay("image", fuzz::image_one);
}

}  // namespace
}  // namespace cnne::test
