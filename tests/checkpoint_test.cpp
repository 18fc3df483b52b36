// Checkpoints: round trip, PyTorch names, atomic writes, and every kind of
// bad file named with what is wrong.
#include <gtest/gtest.h>

#include <cstring>
#include <filesystem>

#include "engine/checkpoint.h"
#include "engine/error.h"
#include "tests/test_util.h"

namespace cnne {
namespace {

Config tutorial_config() {
  return Config::from_json(parse_json_text(Config::embedded_default(), "simplecnn.json"),
                           "simplecnn.json");
}

struct Trained {
  Context ctx{Device::CPU};
  Config config = tutorial_config();
  Network net = Network::from_json(config.network, "simplecnn.json");
  Trained(uint64_t seed = 3) {
    net.setup(ctx, {4});
    Rng rng(seed);
    net.initialize(rng);
  }
};

TEST(Checkpoint, RoundTripsWeightsConfigAndState) {
  test::TempDir dir;
  Trained a;
  TrainingState state;
  state.epochs_completed = 2;
  state.steps = 25000;
  state.test_accuracy = 53.5;
  state.device = "cpu";
  save_checkpoint(dir.file("w.safetensors"), a.config, a.net, state);

  const Checkpoint c = read_checkpoint(dir.file("w.safetensors"));
  ASSERT_TRUE(c.config.has_value());
  EXPECT_EQ(c.config->training.batch_size, 4);
  EXPECT_EQ(c.state.steps, 25000);
  EXPECT_DOUBLE_EQ(c.state.test_accuracy, 53.5);
  EXPECT_EQ(c.file.metadata.at("format"), kCheckpointFormat);
  ASSERT_NE(c.file.find("conv1.weight"), nullptr);
  EXPECT_EQ(c.file.find("conv1.weight")->shape, (Shape{6, 3, 5, 5}));
  EXPECT_EQ(c.file.tensors.size(), 10u);

  Trained b(99);  // different weights until loaded
  load_weights(c.file, "w", b.net);
  EXPECT_EQ(a.net.download_parameters(), b.net.download_parameters());
}

TEST(Checkpoint, FileLayoutIsSafetensors) {
  test::TempDir dir;
  Trained a;
  save_checkpoint(dir.file("w.safetensors"), a.config, a.net, {});
  const auto bytes = test::read_bytes(dir.file("w.safetensors"));
  uint64_t n = 0;
  std::memcpy(&n, bytes.data(), 8);
  EXPECT_EQ(n % 8, 0u);
  EXPECT_EQ(bytes[8], '{');
  EXPECT_EQ(bytes.size(), 8 + n + 62006 * 4);  // header + exactly the tensors, no padding
}

TEST(Checkpoint, FailedWriteLeavesTheOldFileAndNoTemporary) {
  test::TempDir dir;
  Trained a;
  const std::string path = dir.file("w.safetensors");
  save_checkpoint(path, a.config, a.net, {});
  const auto before = test::read_bytes(path);
  std::filesystem::create_directory(dir.file("sub"));
  EXPECT_THROW(save_checkpoint(dir.file("sub"), a.config, a.net, {}), CheckpointError);
  EXPECT_THROW(save_checkpoint(dir.file("missing/w.safetensors"), a.config, a.net, {}),
               CheckpointError);
  EXPECT_EQ(test::read_bytes(path), before);
  size_t files = 0;
  for (const auto& e : std::filesystem::directory_iterator(dir.path())) {
    (void)e;
    ++files;
  }
  EXPECT_EQ(files, 2u);  // w.safetensors and sub/: no stray temporary file
}

struct BadCheckpoint {
  const char* what;
  std::function<void(std::vector<uint8_t>&)> edit;
  const char* expected;
};
void PrintTo(const BadCheckpoint& c, std::ostream* os) {
  *os << c.what;
}

class CheckpointErrors : public ::testing::TestWithParam<BadCheckpoint> {};

// Rewrites the JSON header of a checkpoint with `edit` applied.
std::vector<uint8_t> with_header(const std::vector<uint8_t>& bytes,
                                 const std::function<void(nlohmann::json&)>& edit) {
  uint64_t n = 0;
  std::memcpy(&n, bytes.data(), 8);
  auto header = nlohmann::json::parse(std::string(bytes.begin() + 8, bytes.begin() + 8 + long(n)));
  edit(header);
  const std::string text = header.dump();
  const uint64_t m = text.size();
  std::string all(8, '\0');
  std::memcpy(all.data(), &m, 8);
  all += text;
  all.append(bytes.begin() + 8 + long(n), bytes.end());
  return {all.begin(), all.end()};
}

TEST_P(CheckpointErrors, NameTheFileAndTheProblem) {
  test::TempDir dir;
  Trained a;
  const std::string path = dir.file("w.safetensors");
  save_checkpoint(path, a.config, a.net, {});
  auto bytes = test::read_bytes(path);
  GetParam().edit(bytes);
  test::write_bytes(path, bytes);
  try {
    const Checkpoint c = read_checkpoint(path);
    Trained b;
    load_weights(c.file, path, b.net);
    FAIL() << "no error for " << GetParam().what;
  } catch (const CheckpointError& e) {
    const std::string m = e.what();
    EXPECT_EQ(m.rfind(path, 0), 0u) << m;
    EXPECT_NE(m.find(GetParam().expected), std::string::npos) << m;
  }
}

INSTANTIATE_TEST_SUITE_P(
    Table, CheckpointErrors,
    ::testing::Values(
        BadCheckpoint{"empty", [](auto& b) { b.clear(); }, "truncated: 0 bytes"},
        BadCheckpoint{"truncated data", [](auto& b) { b.resize(b.size() - 10); }, "outside the"},
        BadCheckpoint{"truncated header", [](auto& b) { b.resize(100); }, "exceeds the file"},
        BadCheckpoint{"huge header size", [](auto& b) { b[7] = 0x7f; }, "exceeds the file"},
        BadCheckpoint{"garbage header", [](auto& b) { b[8] = 'x'; }, "header is not valid JSON"},
        BadCheckpoint{"trailing bytes", [](auto& b) { b.push_back(0); }, "1 trailing bytes"},
        BadCheckpoint{
            "wrong dtype",
            [](auto& b) { b = with_header(b, [](auto& h) { h["fc3.bias"]["dtype"] = "F64"; }); },
            "tensor 'fc3.bias' has dtype \"F64\", expected F32, BF16, F16, I32, I64 or U8"},
        BadCheckpoint{
            "16-bit dtype, 32-bit bytes",
            [](auto& b) { b = with_header(b, [](auto& h) { h["fc3.bias"]["dtype"] = "F16"; }); },
            "tensor 'fc3.bias' holds 40 bytes but shape [10] of F16 needs 20"},
        BadCheckpoint{
            "shape vs bytes",
            [](auto& b) { b = with_header(b, [](auto& h) { h["fc3.bias"]["shape"] = {11}; }); },
            "tensor 'fc3.bias' holds 40 bytes but shape [11]"},
        BadCheckpoint{"missing tensor",
                      [](auto& b) {
                        b = with_header(b, [](auto& h) {
                          h["fc3.bias_renamed"] = h["fc3.bias"];
                          h.erase("fc3.bias");
                        });
                      },
                      "missing tensor 'fc3.bias'"},
        BadCheckpoint{"other network's shape",
                      [](auto& b) {
                        b = with_header(b, [](auto& h) { h["fc3.weight"]["shape"] = {84, 10}; });
                      },
                      "tensor 'fc3.weight' has shape [84, 10], the network expects [10, 84]"},
        BadCheckpoint{
            "bad stored config",
            [](auto& b) { b = with_header(b, [](auto& h) { h["__metadata__"]["config"] = "{"; }); },
            "__metadata__.config is not valid JSON"},
        BadCheckpoint{"overlapping offsets",
                      [](auto& b) {
                        b = with_header(b, [](nlohmann::json& h) {
                          auto& o = h["fc3.bias"]["data_offsets"];  // shift 4 bytes back
                          const auto begin = o[0].get<uint64_t>(), end = o[1].get<uint64_t>();
                          o = nlohmann::json::array({begin - 4, end - 4});
                        });
                      },
                      "overlaps or leaves a hole"}));

TEST(Checkpoint, MissingFile) {
  EXPECT_THROW(read_checkpoint("/nonexistent/w.safetensors"), CheckpointError);
}

TEST(Checkpoint, ExtraTensorFromADifferentNetwork) {
  test::TempDir dir;
  Trained a;
  Safetensors file = read_checkpoint([&] {
                       save_checkpoint(dir.file("w"), a.config, a.net, {});
                       return dir.file("w");
                     }())
                         .file;
  float v = 1;
  file.add("fc4.weight", Tensor(&v, Shape{1}));
  try {
    load_weights(file, "w", a.net);
    FAIL();
  } catch (const CheckpointError& e) {
    EXPECT_NE(std::string(e.what()).find("unexpected tensor 'fc4.weight'"), std::string::npos);
  }
}

// nn.DataParallel saves "module.conv1.weight", ...: read without the prefix
// when every name has it, and said so; a file that mixes both is refused.
TEST(Checkpoint, DataParallelNamesLoadWithoutTheirModulePrefix) {
  test::TempDir dir;
  Trained a, b(99);
  save_checkpoint(dir.file("w.safetensors"), a.config, a.net, {});
  Safetensors wrapped = read_checkpoint(dir.file("w.safetensors")).file;
  for (SafetensorsTensor& t : wrapped.tensors) t.name = "module." + t.name;
  const LoadReport report = load_weights(wrapped, "dp.pth", b.net);
  EXPECT_EQ(report.stripped_prefix, "module.");
  EXPECT_EQ(report.loaded, 10);
  EXPECT_EQ(a.net.download_parameters(), b.net.download_parameters());

  wrapped.tensors[0].name = wrapped.tensors[0].name.substr(7);  // one name without it
  try {
    load_weights(wrapped, "mixed.pth", b.net);
    FAIL() << "a file mixing wrapped and plain names loaded";
  } catch (const CheckpointError& e) {
    EXPECT_NE(std::string(e.what()).find("mixed.pth: "), std::string::npos) << e.what();
  }
  EXPECT_EQ(
      load_weights(read_checkpoint(dir.file("w.safetensors")).file, "w", b.net).stripped_prefix,
      "");
}

}  // namespace
}  // namespace cnne
