// The cnnengine binary, run as a user runs it: every bad input gets one line
// on stderr that names what is wrong, and a non-zero exit; nothing crashes or
// hangs. Happy paths on a small synthetic CIFAR-10 folder.
#include <gtest/gtest.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <regex>
#include <sstream>

#include "engine/config.h"
#include "tests/test_util.h"

namespace cnne::test {

namespace {

struct BadInput {
  const char* what;
  std::string
      args;  // {data} = a valid small CIFAR folder, {tmp} = a scratch folder, {src} = the sources
  int exit_code;
  const char* expected;
};
void PrintTo(const BadInput& c, std::ostream* os) {
  *os << c.what;
}

class CliErrors : public ::testing::TestWithParam<BadInput> {};

std::string substitute(std::string s, const std::string& key, const std::string& value) {
  for (size_t at; (at = s.find(key)) != std::string::npos;) s.replace(at, key.size(), value);
  return s;
}

TEST_P(CliErrors, OneClearLineAndNonZeroExit) {
  TempDir data, tmp;
  make_small_cifar(data, 4, 8);
  write_text(tmp.file("bad.json"), "{\n  \"network\": {,\n}");
  write_text(tmp.file("wrong.json"),
             "{\"network\": {\"input\": [3, 32, 32], \"layers\": []}, "
             "\"training\": {\"optimizer\": {\"lr\": 0.1}}}");
  auto truncated = cifar_records(3);
  truncated.resize(5000);
  std::filesystem::create_directory(tmp.path() / "trunc");
  for (int i = 1; i <= 5; ++i)
    write_bytes(tmp.file("trunc/data_batch_" + std::to_string(i) + ".bin"),
                i == 2 ? truncated : cifar_records(3));
  write_bytes(tmp.file("trunc/test_batch.bin"), cifar_records(3));
  write_text(tmp.file("garbage.safetensors"), "not a checkpoint at all");
  write_text(tmp.file("truncated.json"), "{\"network\": {\"name\": \"Simple");
  write_text(tmp.file("tiny.json"),
             "{\"network\": {\"name\": \"Tiny\", \"input\": [3, 32, 32], \"layers\": "
             "[{\"type\": \"flatten\"}, {\"type\": \"linear\", \"name\": \"fc\", "
             "\"in_features\": 3072, \"out_features\": 10}]}, "
             "\"training\": {\"optimizer\": {\"lr\": 0.01}}}");
  if (GetParam().args.find("tiny.safetensors") != std::string::npos) {
    ASSERT_EQ(run_cli("train " + tmp.file("tiny.json") + " --device cpu --no-eval --epochs 1 " +
                      "--data " + data.path().string() + " --out " + tmp.file("tiny.safetensors"))
                  .exit_code,
              0);
  }

  std::string args = substitute(GetParam().args, "{data}", data.path().string());
  args = substitute(args, "{tmp}", tmp.path().string());
  args = substitute(args, "{src}", source_dir());
  const RunResult r = run_cli(args);
  EXPECT_EQ(r.exit_code, GetParam().exit_code) << r.err;
  EXPECT_NE(r.err.find(GetParam().expected), std::string::npos) << "stderr: " << r.err;
  EXPECT_EQ(r.err.rfind("cnnengine: error: ", 0), 0u) << r.err;
  EXPECT_EQ(std::count(r.err.begin(), r.err.end(), '\n'), 1) << "one line: " << r.err;
}

INSTANTIATE_TEST_SUITE_P(
    Table, CliErrors,
    ::testing::Values(
        BadInput{"unknown command", "frobnicate", 2, "unknown command 'frobnicate'"},
        BadInput{"unknown flag", "train --frob", 2, "unknown option '--frob' for 'train'"},
        BadInput{"zero epochs", "train --epochs 0", 2, "--epochs must be in 1..1000000, got 0"},
        BadInput{"negative batch", "train --batch-size -4", 2,
                 "--batch-size must be in 1..65536, got -4"},
        BadInput{"non-numeric", "train --epochs two", 2, "--epochs expects an integer, got 'two'"},
        BadInput{"bad lr", "train --lr -0.1", 2, "--lr must be a positive number"},
        BadInput{"missing value", "train --lr", 2, "--lr needs a value"},
        BadInput{"unknown device", "train --device tpu", 2, "unknown device 'tpu'"},
        BadInput{"zero threads", "train --threads 0", 2, "--threads must be in 1..1024"},
        BadInput{"extra argument", "train a.json b.json", 2, "unexpected argument 'b.json'"},
        BadInput{"missing config", "train {tmp}/none.json", 1,
                 "none.json: cannot open the config file"},
        BadInput{"invalid JSON", "train {tmp}/bad.json", 1, "bad.json: invalid JSON at line 2"},
        BadInput{"invalid network", "train {tmp}/wrong.json", 1,
                 "wrong.json: network: key 'layers' must be a non-empty array"},
        BadInput{"missing data folder", "train --data /nonexistent/cifar", 1,
                 "data folder '/nonexistent/cifar' does not exist"},
        BadInput{"truncated data", "train --data {tmp}/trunc --device cpu", 1,
                 "data_batch_2.bin: size 5000 bytes is not a whole number"},
        BadInput{"no data", "train --data {tmp} --device cpu", 1,
                 "holds none of test_batch.bin, data_batch_1.bin, test_batch, data_batch_1"},
        BadInput{"unwritable checkpoint", "train --data {data} --out /nonexistent/w.safetensors", 2,
                 "folder '/nonexistent' does not exist"},
        BadInput{"checkpoint is a folder", "train --data {data} --out {tmp}", 2, "is a folder"},
        BadInput{"unwritable metrics log", "train --data {data} --metrics /nonexistent/m.jsonl", 2,
                 "--metrics '/nonexistent/m.jsonl': cannot open for appending"},
        BadInput{"eval without checkpoint", "eval", 2, "eval needs --checkpoint FILE"},
        BadInput{"unwritable predictions",
                 "eval --checkpoint {tmp}/tiny.safetensors --predictions /nonexistent/p.csv", 2,
                 "--predictions '/nonexistent/p.csv': folder '/nonexistent' does not exist"},
        BadInput{"eval missing checkpoint", "eval --checkpoint {tmp}/none.safetensors", 1,
                 "none.safetensors: no such file"},
        BadInput{"eval garbage checkpoint", "eval --checkpoint {tmp}/garbage.safetensors", 1,
                 "garbage.safetensors: header size"},
        BadInput{"summary bad config", "summary {tmp}/bad.json", 1, "invalid JSON"},
        BadInput{"truncated JSON", "train {tmp}/truncated.json", 1,
                 "truncated.json: invalid JSON at line 1, column 29"},
        BadInput{"checkpoint of another network",
                 "eval --checkpoint {tmp}/tiny.safetensors --config {src}"
                 "/configs/simplecnn.json --data {data}",
                 1, "tiny.safetensors: missing tensor 'conv1.weight'"},
        BadInput{"resume a complete run", "train --resume {tmp}/tiny.safetensors --data {data}", 2,
                 "has already trained 1 epochs"},
        BadInput{"bad profile range", "train --profile-steps 9:3", 2,
                 "--profile-steps expects A:B with 1 <= A <= B"},
        BadInput{"graph and no graph", "train --graph --no-graph --data {data}", 2,
                 "--graph and --no-graph contradict"},
        BadInput{"validation holds out everything",
                 "train --data {data} --device cpu --validation 20 --train-limit 20", 1,
                 "data.validation holds out 20 images but only 20 training images were read"},
        BadInput{"eval validation of a run without one",
                 "eval --checkpoint {tmp}/tiny.safetensors --validation --data {data}", 2,
                 "holds out no validation images (data.validation is 0)"},
        BadInput{"negative gradient clip", "train --clip-grad-norm -2", 2,
                 "--clip-grad-norm must be a finite number >= 0"},
        BadInput{"fused step with clipping",
                 "train --data {data} --device cpu --fused-step --clip-grad-norm 1", 1,
                 "training.fused_step: it does not clip gradients"},
        BadInput{"bench bad steps", "bench --steps 0", 2, "--steps must be in 1..1000000"},
        BadInput{"inspect without file", "inspect", 2, "inspect needs a checkpoint FILE"},
        BadInput{"convert to unknown format", "convert {tmp}/tiny.safetensors {tmp}/w.bin", 2,
                 "w.bin' must end in .safetensors, .pth or .pt"},
        BadInput{"convert garbage", "convert {tmp}/garbage.safetensors {tmp}/w.pth", 1,
                 "garbage.safetensors: header size"},
        BadInput{"lr-find end below start", "lr-find --start-lr 0.1 --end-lr 0.01", 2,
                 "--end-lr must be greater than --start-lr"},
        BadInput{"lr-find one step", "lr-find --steps 1", 2,
                 "--steps must be in 2..1000000, got 1"},
        BadInput{"lr-find takes no epochs", "lr-find --epochs 3", 2,
                 "unknown option '--epochs' for 'lr-find'"},
        BadInput{"lr-find smoothing 1", "lr-find --smoothing 1", 2,
                 "--smoothing must be in [0, 1)"},
        BadInput{"lr-find unwritable csv", "lr-find --data {data} --csv /nonexistent/l.csv", 2,
                 "--csv '/nonexistent/l.csv': folder '/nonexistent' does not exist"},
        BadInput{"lr-find bad config", "lr-find {tmp}/bad.json", 1, "bad.json: invalid JSON"},
        BadInput{"help for unknown", "help frobnicate", 2, "no help for unknown command"}));

TEST(Cli, NoGpuMeansCudaIsRefusedClearly) {
  const RunResult info = run_cli("info");
  ASSERT_EQ(info.exit_code, 0);
  if (info.out.find("GPU 0:") != std::string::npos) GTEST_SKIP() << "a GPU is present";
  const RunResult r = run_cli("train --device cuda");
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_NE(r.err.find("--device cuda: no usable GPU"), std::string::npos) << r.err;
}

TEST(Cli, HelpAndInfoExitZero) {
  for (const char* args :
       {"help", "--help", "train --help", "eval --help", "summary --help", "info --help",
        "inspect --help", "bench --help", "lr-find --help", "help lr-find", "version", "info"}) {
    const RunResult r = run_cli(args);
    EXPECT_EQ(r.exit_code, 0) << args << ": " << r.err;
    EXPECT_FALSE(r.out.empty()) << args;
  }
  EXPECT_NE(run_cli("info").out.find("cnnengine"), std::string::npos);
}

TEST(Cli, TheCpuPathSaysHowManyThreadsItUses) {
  const RunResult one = run_cli("bench --device cpu --steps 1 --warmup 0 --batch-size 2");
  ASSERT_EQ(one.exit_code, 0) << one.err;
  EXPECT_NE(one.out.find("CPU threads: 1"), std::string::npos) << one.out;
  const RunResult two =
      run_cli("bench --device cpu --steps 1 --warmup 0 --batch-size 2 --threads 2");
  ASSERT_EQ(two.exit_code, 0) << two.err;
  EXPECT_NE(two.out.find("CPU threads: 2"), std::string::npos) << two.out;
  EXPECT_NE(two.out.find("2 thread(s)"), std::string::npos) << two.out;
}

TEST(Cli, SummaryPrintsTheModelAndTotals) {
  const RunResult r = run_cli("summary " + source_dir() + "/configs/simplecnn.json");
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_NE(r.out.find("(conv1): Conv2d(3, 6, kernel_size=(5, 5), stride=(1, 1))"),
            std::string::npos);
  EXPECT_NE(r.out.find("Total parameters: 62,006"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("[1, 16, 5, 5]"), std::string::npos);
}

TEST(Cli, BenchTimesEveryLayerAndTheStep) {
  const RunResult r = run_cli("bench --device cpu --steps 5 --warmup 1 --batch-size 8");
  ASSERT_EQ(r.exit_code, 0) << r.err;
  for (const char* expected :
       {"batch 8", "conv1", "fc3", "loss", "update",
        "step (forward + loss + backward + update): ", "images/s", "memory on cpu: "})
    EXPECT_NE(r.out.find(expected), std::string::npos) << expected << "\n" << r.out;
}

// lr-find: the table, the suggestions and the plot; every step in the CSV;
// no checkpoint (the folder it runs in holds only the CSV afterwards); a ramp
// far too high stops early, saying why.
TEST(Cli, LrFindPrintsTheRangeTestAndWritesOnlyTheCsv) {
  TempDir data, work;
  make_small_cifar(data, 40, 8);
  const std::string csv = work.file("lr.csv");
  const RunResult r = run_command(
      "cd " + work.path().string() + " && " + binary_path() + " lr-find --device cpu --data " +
      data.path().string() + " --batch-size 4 --steps 60 --start-lr 1e-5 --end-lr 1 --csv lr.csv");
  ASSERT_EQ(r.exit_code, 0) << r.err << r.out;
  for (const char* expected :
       {"Learning-rate range test: up to 60 steps, lr 1e-05 rising exponentially towards 1, sgd, "
        "batch 4 on 200 images; no checkpoint is written",
        "     step          lr        loss    smoothed", "        1   1.000e-05",
        "Lowest smoothed loss",
        "smoothed loss against lr (log scale):", "Losses written to lr.csv"})
    EXPECT_NE(r.out.find(expected), std::string::npos) << expected << "\n" << r.out;
  const std::regex done("Done: 60 steps|Stopped after ([0-9]+) of 60 steps: ");
  std::smatch m;
  ASSERT_TRUE(std::regex_search(r.out, m, done)) << r.out;
  const int steps = m[1].matched ? std::stoi(m[1].str()) : 60;
  const std::string rows = read_text(csv);
  EXPECT_EQ(rows.rfind("step,lr,loss,smoothed_loss\n1,1e-05,", 0), 0u) << rows;
  EXPECT_EQ(std::count(rows.begin(), rows.end(), '\n'), steps + 1) << rows;
  std::vector<std::string> left;
  for (const auto& entry : std::filesystem::directory_iterator(work.path()))
    left.push_back(entry.path().filename().string());
  EXPECT_EQ(left, std::vector<std::string>{"lr.csv"});

  const RunResult high = run_cli("lr-find --device cpu --data " + data.path().string() +
                                 " --batch-size 4 --steps 40 --start-lr 10 --end-lr 1e9");
  ASSERT_EQ(high.exit_code, 0) << high.err;
  EXPECT_TRUE(std::regex_search(high.out, m, std::regex("Stopped after ([0-9]+) of 40 steps: ")))
      << high.out;
  EXPECT_LT(std::stoi(m[1].str()), 40) << high.out;
  EXPECT_NE(high.out.find("No steepest-descent suggestion"), std::string::npos) << high.out;
  EXPECT_NE(high.out.find("within the first 10: the loss did not fall as the rate rose"),
            std::string::npos)
      << high.out;

  // No divergence bound: the rate grows until the trainer meets a NaN/Inf.
  const RunResult nan = run_cli("lr-find --device cpu --data " + data.path().string() +
                                " --batch-size 4 --steps 40 --start-lr 1e3 --end-lr 1e30 "
                                "--divergence 0 --csv " +
                                csv);
  ASSERT_EQ(nan.exit_code, 0) << nan.err;
  EXPECT_TRUE(std::regex_search(
      nan.out, m,
      std::regex("Stopped after ([0-9]+) of 40 steps: a NaN or Inf in the loss or the gradients "
                 "at step ([0-9]+)\n")))
      << nan.out;
  EXPECT_EQ(m[1].str(), m[2].str());
  EXPECT_NE(read_text(csv).find(",nan,nan\n"), std::string::npos) << read_text(csv);
}

// Train then eval on a tiny synthetic set: the checkpoint is written, and eval
// of it prints exactly the accuracy train printed.
TEST(Cli, TrainThenEvalReproducesTheAccuracy) {
  TempDir data, out;
  make_small_cifar(data, 8, 20);
  const std::string ckpt = out.file("w.safetensors");
  const RunResult train = run_cli("train --device cpu --data " + data.path().string() +
                                  " --epochs 2 --log-every 5 --out " + ckpt);
  ASSERT_EQ(train.exit_code, 0) << train.err;
  EXPECT_NE(train.out.find("[Epoch: 2, Batch: 10] Loss: "), std::string::npos) << train.out;
  EXPECT_NE(train.out.find("Finished Training"), std::string::npos);
  const std::regex accuracy("Accuracy of the network on the 20 test images: [0-9.]+%");
  std::smatch from_train, from_eval;
  ASSERT_TRUE(std::regex_search(train.out, from_train, accuracy)) << train.out;
  ASSERT_TRUE(std::filesystem::exists(ckpt));
  const RunResult eval =
      run_cli("eval --device cpu --checkpoint " + ckpt + " --data " + data.path().string());
  ASSERT_EQ(eval.exit_code, 0) << eval.err;
  ASSERT_TRUE(std::regex_search(eval.out, from_eval, accuracy)) << eval.out;
  EXPECT_EQ(from_train.str(), from_eval.str());
  EXPECT_NE(eval.out.find("Accuracy of plane : "), std::string::npos);
}

// The tutorial's network with each ReLU replaced by another activation trains,
// prints the activations in its model and evaluates to the accuracy it printed.
TEST(Cli, TrainsWithTheOtherActivations) {
  TempDir data, out;
  make_small_cifar(data, 8, 20);
  nlohmann::json j = parse_json_text(Config::embedded_default(), "simplecnn.json");
  auto& layers = j["network"]["layers"];
  layers[1] = {{"type", "tanh"}, {"name", "act1"}};
  layers[4] = {{"type", "silu"}, {"name", "act2"}};
  layers[8] = {{"type", "gelu"}, {"name", "act3"}};
  layers[10] = {{"type", "leaky_relu"}, {"name", "act4"}, {"negative_slope", 0.1}};
  write_text(out.file("acts.json"), j.dump(2));
  const std::string ckpt = out.file("w.safetensors");
  const RunResult train = run_cli("train " + out.file("acts.json") + " --device cpu --data " +
                                  data.path().string() + " --epochs 2 --out " + ckpt);
  ASSERT_EQ(train.exit_code, 0) << train.err;
  for (const char* line : {"(act1): Tanh()", "(act2): SiLU()", "(act3): GELU(approximate='none')",
                           "(act4): LeakyReLU(negative_slope=0.1)", "Finished Training"})
    EXPECT_NE(train.out.find(line), std::string::npos) << line << "\n" << train.out;
  const std::regex accuracy("Accuracy of the network on the 20 test images: [0-9.]+%");
  std::smatch from_train, from_eval;
  ASSERT_TRUE(std::regex_search(train.out, from_train, accuracy)) << train.out;
  const RunResult eval =
      run_cli("eval --device cpu --checkpoint " + ckpt + " --data " + data.path().string());
  ASSERT_EQ(eval.exit_code, 0) << eval.err;
  ASSERT_TRUE(std::regex_search(eval.out, from_eval, accuracy)) << eval.out;
  EXPECT_EQ(from_train.str(), from_eval.str());
}

// eval --predictions: one CSV row per test image whose predictions are the
// accuracy eval prints, with each row's probabilities summing to 1.
TEST(Cli, EvalWritesEveryImagesPredictionAsCsv) {
  TempDir data, out;
  make_small_cifar(data, 8, 20);
  const std::string ckpt = out.file("w.safetensors"), csv = out.file("p.csv");
  ASSERT_EQ(run_cli("train --device cpu --epochs 1 --no-eval --data " + data.path().string() +
                    " --out " + ckpt)
                .exit_code,
            0);
  const RunResult eval = run_cli("eval --device cpu --tta-flip --checkpoint " + ckpt + " --data " +
                                 data.path().string() + " --predictions " + csv);
  ASSERT_EQ(eval.exit_code, 0) << eval.err;
  std::smatch m;
  ASSERT_TRUE(std::regex_search(eval.out, m, std::regex("on the 20 test images: ([0-9.]+)%")))
      << eval.out;
  std::istringstream rows(read_text(csv));
  std::string line;
  std::getline(rows, line);
  EXPECT_EQ(line,
            "index,label,predicted,correct,confidence,p_plane,p_car,p_bird,p_cat,p_deer,p_dog,"
            "p_frog,p_horse,p_ship,p_truck");
  int count = 0, correct = 0;
  while (std::getline(rows, line)) {
    std::vector<std::string> f;
    std::stringstream fields(line);
    for (std::string x; std::getline(fields, x, ',');) f.push_back(x);
    ASSERT_EQ(f.size(), 15u) << line;
    EXPECT_EQ(f[0], std::to_string(count));
    EXPECT_EQ(f[3], f[1] == f[2] ? "1" : "0") << line;
    double sum = 0, top = 0;
    for (size_t c = 5; c < 15; ++c) {
      sum += std::stod(f[c]);
      top = std::max(top, std::stod(f[c]));
    }
    EXPECT_NEAR(sum, 1.0, 1e-5) << line;
    EXPECT_DOUBLE_EQ(std::stod(f[4]), top) << line;
    correct += f[3] == "1";
    ++count;
  }
  EXPECT_EQ(count, 20);
  EXPECT_DOUBLE_EQ(100.0 * correct / count, std::stod(m[1].str()));
}

// convert: PyTorch's .pth to safetensors and back keeps every tensor's bytes
// (the same weights digest) and a cnnengine checkpoint's config.
TEST(Cli, ConvertKeepsTheWeightsBothWays) {
  TempDir out;
  const std::string pth = fixtures_dir() + "/torch_simplecnn.pth", st = out.file("w.safetensors"),
                    back = out.file("w.pth");
  const RunResult to_st = run_cli("convert " + pth + " " + st);
  ASSERT_EQ(to_st.exit_code, 0) << to_st.err;
  EXPECT_NE(to_st.out.find("(torch.save, 10 tensors) to " + st + " (safetensors)"),
            std::string::npos)
      << to_st.out;
  ASSERT_EQ(run_cli("convert " + st + " " + back).exit_code, 0);
  const std::regex digest("weights digest: ([0-9a-f]+)");
  std::smatch a, b, c;
  const std::string ia = run_cli("inspect " + pth).out, ib = run_cli("inspect " + st).out,
                    ic = run_cli("inspect " + back).out;
  ASSERT_TRUE(std::regex_search(ia, a, digest)) << ia;
  ASSERT_TRUE(std::regex_search(ib, b, digest)) << ib;
  ASSERT_TRUE(std::regex_search(ic, c, digest)) << ic;
  EXPECT_EQ(a[1].str(), b[1].str());
  EXPECT_EQ(a[1].str(), c[1].str());
  EXPECT_EQ(ib.find("format: torch.save"), std::string::npos) << ib;  // a reader's note, not kept

  TempDir data;
  make_small_cifar(data, 8, 20);
  const std::string ckpt = out.file("c.pth"), converted = out.file("c.safetensors");
  ASSERT_EQ(run_cli("train --device cpu --epochs 1 --no-eval --data " + data.path().string() +
                    " --out " + ckpt)
                .exit_code,
            0);
  ASSERT_EQ(run_cli("convert " + ckpt + " " + converted).exit_code, 0);
  const RunResult eval = run_cli("eval --device cpu --checkpoint " + converted + " --data " +
                                 data.path().string());  // its stored config came along
  EXPECT_EQ(eval.exit_code, 0) << eval.err;
}

TEST(Cli, SameSeedSameRun) {
  TempDir data, out;
  make_small_cifar(data, 8, 4);
  auto losses = [&](int seed) {
    const RunResult r = run_cli("train --device cpu --no-eval --data " + data.path().string() +
                                " --epochs 2 --log-every 2 --seed " + std::to_string(seed) +
                                " --out " + out.file("w.safetensors"));
    EXPECT_EQ(r.exit_code, 0) << r.err;
    return loss_lines(r.out);
  };
  const std::string a = losses(1);
  EXPECT_FALSE(a.empty());
  EXPECT_EQ(a, losses(1));
  EXPECT_NE(a, losses(2));
}

// Cutout changes the training (its squares reach the loss) and says so at the
// start; a run without augmentation prints no such line.
TEST(Cli, TrainSaysItsAugmentationAndCutoutTrainsDifferently) {
  TempDir data, out;
  make_small_cifar(data, 8, 4);
  nlohmann::json config = parse_json_text(Config::embedded_default(), "simplecnn.json");
  auto run = [&](int64_t cutout) {
    if (cutout > 0) config["data"]["augment"] = {{"horizontal_flip", true}, {"cutout", cutout}};
    write_text(out.file("c.json"), config.dump());
    const RunResult r = run_cli("train " + out.file("c.json") + " --device cpu --no-eval --data " +
                                data.path().string() + " --epochs 1 --log-every 2 --out " +
                                out.file("w.safetensors"));
    EXPECT_EQ(r.exit_code, 0) << r.err;
    return r.out;
  };
  const std::string plain = run(0);
  EXPECT_EQ(plain.find("Augmentation"), std::string::npos) << plain;
  const std::string cut = run(16);
  EXPECT_NE(cut.find("Augmentation (training images): RandomHorizontalFlip(), Cutout(16)\n"),
            std::string::npos)
      << cut;
  config["data"]["augment"] = {{"horizontal_flip", true}};
  const std::string flip_only = run(0);
  EXPECT_NE(loss_lines(cut), loss_lines(flip_only));
  EXPECT_EQ(loss_lines(cut), loss_lines(run(16)));  // the same draws again
}

}  // namespace
}  // namespace cnne::test
