// PyTorch's torch.save files (engine/torch_file.h) against fixtures written by
// PyTorch itself (tools/make_torch_fixtures.py): the tutorial's cnn_model.pth,
// every dtype and view case, a training checkpoint, and the files that must be
// refused; then damage and mutation, which must end in a named error.
#include <gtest/gtest.h>

#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <fstream>

#include "engine/checkpoint.h"
#include "engine/checkpoint_saver.h"
#include "engine/config.h"
#include "engine/error.h"
#include "engine/half.h"
#include "engine/network.h"
#include "engine/pickle.h"
#include "engine/tensor_file.h"
#include "engine/torch_file.h"
#include "engine/zip_archive.h"
#include "tests/test_util.h"
#include "tests/zip_writer.h"

namespace cnne::test {
namespace {

// tools/make_torch_fixtures.py's pattern: tensor k of a file, element i.
float pattern(int k, int64_t i) {
  return static_cast<float>((i % 97) - 48) / 64.0f + static_cast<float>(k) / 8.0f;
}

std::string fixture(const std::string& name) {
  return fixtures_dir() + "/" + name;
}

std::vector<float> floats(const SafetensorsTensor& t) {
  std::vector<float> v(static_cast<size_t>(t.shape.numel()));
  convert_host(t.bytes.data(), t.dtype, v.data(), DType::F32, v.size());
  return v;
}

template <typename T>
std::vector<T> values(const SafetensorsTensor& t) {
  std::vector<T> v(t.bytes.size() / sizeof(T));
  std::memcpy(v.data(), t.bytes.data(), t.bytes.size());
  return v;
}

const SafetensorsTensor& get(const Safetensors& f, const std::string& name) {
  const SafetensorsTensor* t = f.find(name);
  if (!t) throw std::runtime_error("no tensor " + name);
  return *t;
}

// The message of the CheckpointError `parse` throws ("" when it throws none).
template <typename F>
std::string error_of(F&& parse) {
  try {
    parse();
  } catch (const CheckpointError& e) {
    return e.what();
  }
  return "";
}

Safetensors parse_bytes(const std::vector<uint8_t>& bytes) {
  return parse_torch_file(bytes, "t.pth");
}

TEST(TorchFile, TheTutorialsStateDictLoadsIntoSimpleCNN) {
  const Safetensors f = load_tensor_file(fixture("torch_simplecnn.pth"));
  EXPECT_EQ(f.metadata.at("format"), "torch.save");
  const std::vector<std::string> names{"conv1.weight", "conv1.bias", "conv2.weight", "conv2.bias",
                                       "fc1.weight",   "fc1.bias",   "fc2.weight",   "fc2.bias",
                                       "fc3.weight",   "fc3.bias"};
  ASSERT_EQ(f.tensors.size(), names.size());
  for (size_t k = 0; k < names.size(); ++k) EXPECT_EQ(f.tensors[k].name, names[k]);  // dict order
  EXPECT_EQ(get(f, "conv2.weight").shape, (Shape{16, 6, 5, 5}));

  Context ctx(Device::CPU);
  Network net = Network::from_json(
      parse_json_text(Config::embedded_default(), "simplecnn.json")["network"], "simplecnn.json");
  net.setup(ctx, {1});
  const LoadReport report = load_weights(f, "torch_simplecnn.pth", net);
  EXPECT_EQ(report.loaded, 10);
  const std::vector<float> params = net.download_parameters();
  for (const NamedParam& p : net.parameters()) {
    const int k = static_cast<int>(std::find(names.begin(), names.end(), p.name) - names.begin());
    for (int64_t i = 0; i < p.shape.numel(); ++i)
      ASSERT_EQ(params[static_cast<size_t>(p.offset + i)], pattern(k, i))
          << p.name << "[" << i << "]";
  }
}

TEST(TorchFile, EveryDtypeStridedViewsAndSharedStorages) {
  const Safetensors f = load_tensor_file(fixture("torch_tensors.pth"));
  ASSERT_EQ(f.tensors.size(), 12u);
  const std::pair<const char*, DType> floating[] = {
      {"f32", DType::F32}, {"f16", DType::F16}, {"bf16", DType::BF16}, {"f64", DType::F32}};
  for (int k = 0; k < 4; ++k) {
    const SafetensorsTensor& t = get(f, floating[k].first);
    EXPECT_EQ(t.dtype, floating[k].second) << t.name;
    EXPECT_EQ(t.shape, (Shape{2, 3})) << t.name;
    const std::vector<float> v = floats(t);
    for (int64_t i = 0; i < 6; ++i) EXPECT_EQ(v[static_cast<size_t>(i)], pattern(k, i)) << t.name;
  }
  const SafetensorsTensor& scalar = get(f, "i64_scalar");
  EXPECT_EQ(scalar.dtype, DType::I64);
  EXPECT_EQ(scalar.shape.rank(), 0);
  EXPECT_EQ(values<int64_t>(scalar), std::vector<int64_t>{7});
  EXPECT_EQ(values<int32_t>(get(f, "i32")), (std::vector<int32_t>{-3, 0, 5}));
  EXPECT_EQ(values<uint8_t>(get(f, "u8")), (std::vector<uint8_t>{0, 200, 255}));

  // pattern(7) as (3, 4), transposed: element (i, j) of the (4, 3) view is (j, i).
  const SafetensorsTensor& transposed = get(f, "transposed");
  EXPECT_EQ(transposed.shape, (Shape{4, 3}));
  const std::vector<float> tv = floats(transposed);
  for (int i = 0; i < 4; ++i)
    for (int j = 0; j < 3; ++j)
      EXPECT_EQ(tv[static_cast<size_t>(i * 3 + j)], pattern(7, j * 4 + i));

  // Two views of one storage (pattern(8) of 10 elements): [2:5] and [5:] as (5, 1).
  const std::vector<float> a = floats(get(f, "view_a")), b = floats(get(f, "view_b"));
  EXPECT_EQ(get(f, "view_b").shape, (Shape{5, 1}));
  ASSERT_EQ(a.size(), 3u);
  ASSERT_EQ(b.size(), 5u);
  for (int i = 0; i < 3; ++i) EXPECT_EQ(a[static_cast<size_t>(i)], pattern(8, 2 + i));
  for (int i = 0; i < 5; ++i) EXPECT_EQ(b[static_cast<size_t>(i)], pattern(8, 5 + i));

  EXPECT_EQ(get(f, "empty").shape, (Shape{0, 3}));
  EXPECT_TRUE(get(f, "empty").bytes.empty());
  EXPECT_EQ(floats(get(f, "param")), (std::vector<float>{pattern(11, 0), pattern(11, 1)}));
}

TEST(TorchFile, ATrainingCheckpointGivesItsModelStateDict) {
  const Safetensors f = load_tensor_file(fixture("torch_nested.pth"));  // pickle protocol 4
  EXPECT_EQ(f.metadata.at("state_dict_key"), "model_state_dict");
  ASSERT_EQ(f.tensors.size(), 2u);  // not the optimizer's momentum buffers
  EXPECT_EQ(get(f, "weight").shape, (Shape{2, 3}));
  const std::vector<float> w = floats(get(f, "weight")), bias = floats(get(f, "bias"));
  for (int64_t i = 0; i < 6; ++i) EXPECT_EQ(w[static_cast<size_t>(i)], pattern(0, i));
  EXPECT_EQ(bias, (std::vector<float>{pattern(1, 0), pattern(1, 1)}));
}

TEST(TorchFile, ModulesLegacyFilesAndTorchScriptAreRefusedSayingHowToResave) {
  const std::string module = error_of([] { load_tensor_file(fixture("torch_module.pth")); });
  EXPECT_NE(module.find("holds a torch.nn.modules.linear.Linear object, not a state_dict"),
            std::string::npos)
      << module;
  EXPECT_NE(module.find("torch.save(model.state_dict(), path)"), std::string::npos) << module;
  const std::string legacy = error_of([] { load_tensor_file(fixture("torch_legacy.pth")); });
  EXPECT_NE(legacy.find("the legacy torch.save format"), std::string::npos) << legacy;

  std::vector<ZipInput> script = read_zip_entries(read_bytes(fixture("torch_nested.pth")));
  script.push_back({"torch_nested/constants.pkl", {0x80, 0x02, ')', '.'}});
  const std::string torchscript = error_of([&] { parse_bytes(make_zip(script)); });
  EXPECT_NE(torchscript.find("a TorchScript archive"), std::string::npos) << torchscript;

  // A dict without a state_dict in it, and one that mixes tensors with other values.
  const std::vector<uint8_t> no_tensors{0x80, 0x02, '}', '(', 'X', 1,   0,
                                        0,    0,    'a', 'K', 1,   'u', '.'};
  const std::string none = error_of([&] {
    parse_bytes(make_zip({{"x/data.pkl", no_tensors}, {"x/version", {'3'}}}));
  });
  EXPECT_NE(none.find("holds a dict (keys 'a') with no state_dict"), std::string::npos) << none;
}

TEST(TorchFile, DamageIsAnErrorThatNamesTheEntry) {
  const std::vector<uint8_t> good = read_bytes(fixture("torch_tensors.pth"));
  const std::vector<ZipInput> entries = read_zip_entries(good);
  EXPECT_EQ(parse_bytes(make_zip(entries)).tensors.size(), 12u);         // the writer round-trips
  EXPECT_EQ(parse_bytes(make_zip(entries, false)).tensors.size(), 12u);  // no ZIP64 records

  auto changed = [&](const std::string& entry, auto&& change) {
    std::vector<ZipInput> copy = entries;
    for (auto it = copy.begin(); it != copy.end(); ++it)
      if (it->name == entry) {
        if (!change(*it)) copy.erase(it);
        break;
      }
    return error_of([&] { parse_bytes(make_zip(copy)); });
  };
  EXPECT_NE(changed("torch_tensors/data/0", [](ZipInput&) { return false; })
                .find("tensor 'f32': storage 'torch_tensors/data/0' is missing"),
            std::string::npos);
  EXPECT_NE(changed("torch_tensors/data/0",
                    [](ZipInput& e) {
                      e.bytes.resize(20);
                      return true;
                    })
                .find("storage 'torch_tensors/data/0' has 20 bytes, its header says 24"),
            std::string::npos);
  // An entry the directory says is deflated (method 8): the method field of
  // its central directory record, after the signature and two version fields.
  std::vector<uint8_t> deflated = good;
  const std::string name = "torch_tensors/data/0";
  for (size_t at = 0; at + 46 + name.size() <= deflated.size(); ++at)
    if (deflated[at] == 'P' && deflated[at + 1] == 'K' && deflated[at + 2] == 1 &&
        deflated[at + 3] == 2 && std::memcmp(&deflated[at + 46], name.data(), name.size()) == 0 &&
        deflated[at + 28] == name.size())
      deflated[at + 10] = 8;
  EXPECT_NE(error_of([&] {
              parse_bytes(deflated);
            }).find("ZIP entry 'torch_tensors/data/0' is compressed (method 8)"),
            std::string::npos);
  std::vector<ZipInput> big = entries;
  big.push_back({"torch_tensors/byteorder", {'b', 'i', 'g'}});
  EXPECT_NE(error_of([&] { parse_bytes(make_zip(big)); }).find("big-endian"), std::string::npos);

  // A flipped bit in a storage fails its CRC.
  const ZipArchive zip(good, "t.pth");
  const ZipEntry* storage = zip.find("torch_tensors/data/3");
  ASSERT_NE(storage, nullptr);
  std::vector<uint8_t> flipped = good;
  flipped[static_cast<size_t>(zip.read(*storage).data() - good.data())] ^= 0x10;
  EXPECT_NE(error_of([&] {
              parse_bytes(flipped);
            }).find("ZIP entry 'torch_tensors/data/3' fails its CRC-32 check"),
            std::string::npos);

  // Every truncation is an error, never a crash or a partial result.
  for (size_t n = 0; n < good.size(); n += 7) {
    const std::vector<uint8_t> cut(good.begin(), good.begin() + static_cast<std::ptrdiff_t>(n));
    EXPECT_NE(error_of([&] { parse_bytes(cut); }), "") << n << " bytes";
  }
}

TEST(TorchFile, EveryMutationOfThePickleIsAResultOrANamedError) {
  const std::vector<ZipInput> entries = read_zip_entries(read_bytes(fixture("torch_tensors.pth")));
  const size_t pickle = static_cast<size_t>(
      std::find_if(entries.begin(), entries.end(),
                   [](const ZipInput& e) { return e.name == "torch_tensors/data.pkl"; }) -
      entries.begin());
  ASSERT_LT(pickle, entries.size());
  int errors = 0, results = 0;
  for (size_t at = 0; at < entries[pickle].bytes.size(); ++at)
    for (uint8_t value : {uint8_t{0x00}, uint8_t{0xff}, uint8_t{'('}, uint8_t{'h'}}) {
      std::vector<ZipInput> copy = entries;
      if (copy[pickle].bytes[at] == value) continue;
      copy[pickle].bytes[at] = value;
      try {
        parse_bytes(make_zip(copy));
        ++results;
      } catch (const CheckpointError& e) {
        ASSERT_NE(std::string(e.what()).find("t.pth"), std::string::npos) << e.what();
        ++errors;
      }
    }
  EXPECT_GT(errors, 1000);  // most mutations break the pickle...
  EXPECT_GT(results, 0);    // ...some only change a value
}

// Archives past 4 GiB keep sizes and offsets in ZIP64 extra fields, the 32-bit
// fields saying 0xffffffff: a small archive written that way by hand.
TEST(ZipArchive, ReadsZip64SizesAndOffsetsFromTheExtraField) {
  std::vector<uint8_t> b;
  auto put = [&b](uint64_t v, int n) {
    for (int i = 0; i < n; ++i) b.push_back(static_cast<uint8_t>(v >> (8 * i)));
  };
  const std::string name = "a/x", data = "hello";
  const uint32_t crc = 0x3610a686;  // CRC-32 of "hello"
  put(0x04034b50, 4), put(45, 2), put(0, 2), put(0, 2), put(0, 4), put(crc, 4);
  put(0xffffffff, 4), put(0xffffffff, 4), put(name.size(), 2), put(20, 2);
  b.insert(b.end(), name.begin(), name.end());
  put(1, 2), put(16, 2), put(data.size(), 8), put(data.size(), 8);
  b.insert(b.end(), data.begin(), data.end());
  const size_t directory = b.size();
  put(0x02014b50, 4), put(45, 2), put(45, 2), put(0, 2), put(0, 2), put(0, 4), put(crc, 4);
  put(0xffffffff, 4), put(0xffffffff, 4), put(name.size(), 2), put(28, 2), put(0, 2);
  put(0, 2), put(0, 2), put(0, 4), put(0xffffffff, 4);
  b.insert(b.end(), name.begin(), name.end());
  put(1, 2), put(24, 2), put(data.size(), 8), put(data.size(), 8), put(0, 8);
  const size_t directory_size = b.size() - directory;
  put(0x06054b50, 4), put(0, 4), put(1, 2), put(1, 2), put(directory_size, 4);
  put(directory, 4), put(0, 2);

  const ZipArchive zip(b, "zip64.zip");
  const ZipEntry* e = zip.find(name);
  ASSERT_NE(e, nullptr);
  EXPECT_EQ(e->size, data.size());
  EXPECT_EQ(e->local_header, 0u);
  const std::span<const uint8_t> read = zip.read(*e);
  EXPECT_EQ(std::string(read.begin(), read.end()), data);
}

// data.pkl of {'x': _rebuild_tensor_v2(('storage', torch.FloatStorage, '0',
// 'cpu', 6), offset, size, stride, False, OrderedDict())}, by hand.
std::vector<uint8_t> one_tensor_pickle(int64_t offset, const std::vector<int64_t>& size,
                                       const std::vector<int64_t>& stride) {
  std::vector<uint8_t> b{0x80, 0x02, '}', '('};
  auto text = [&b](const std::string& t) {
    b.push_back('X');
    for (int i = 0; i < 4; ++i) b.push_back(static_cast<uint8_t>(t.size() >> (8 * i)));
    b.insert(b.end(), t.begin(), t.end());
  };
  auto global = [&b](const std::string& module_and_name) {
    b.push_back('c');
    b.insert(b.end(), module_and_name.begin(), module_and_name.end());
  };
  auto integer = [&b](int64_t v) {  // LONG1, 8 bytes
    b.push_back(0x8a);
    b.push_back(8);
    for (int i = 0; i < 8; ++i)
      b.push_back(static_cast<uint8_t>(static_cast<uint64_t>(v) >> (8 * i)));
  };
  text("x");
  global("torch._utils\n_rebuild_tensor_v2\n");
  b.push_back('(');
  b.push_back('(');
  text("storage");
  global("torch\nFloatStorage\n");
  text("0");
  text("cpu");
  integer(6);
  b.push_back('t');
  b.push_back('Q');
  integer(offset);
  for (const auto* v : {&size, &stride}) {
    b.push_back('(');
    for (int64_t x : *v) integer(x);
    b.push_back('t');
  }
  b.push_back(0x89);
  global("collections\nOrderedDict\n");
  b.push_back(')');
  b.push_back('R');
  b.push_back('t');
  b.push_back('R');
  b.push_back('u');
  b.push_back('.');
  return b;
}

TEST(TorchFile, ViewsBeyondTheirStorageOrPastAnyIntegerAreRefused) {
  auto parse = [](int64_t offset, std::vector<int64_t> size, std::vector<int64_t> stride) {
    const std::vector<ZipInput> entries{{"x/data.pkl", one_tensor_pickle(offset, size, stride)},
                                        {"x/data/0", std::vector<uint8_t>(24, 0)},
                                        {"x/version", {'3', '\n'}}};
    return error_of([&] { parse_bytes(make_zip(entries)); });
  };
  EXPECT_EQ(parse(0, {2, 3}, {3, 1}), "");  // the whole storage: fine
  EXPECT_EQ(parse(5, {1}, {1}), "");
  EXPECT_NE(parse(1, {2, 3}, {3, 1}).find("reaches element 6 of a storage of 6"),
            std::string::npos);
  const int64_t big = int64_t{1} << 40;
  EXPECT_NE(parse(0, {big, big}, {1, 1}).find("is too large"), std::string::npos);
  EXPECT_NE(parse(0, {2, 2}, {big, big}).find("reaches element"), std::string::npos);
  EXPECT_NE(parse(INT64_MAX, {1}, {1}).find("huge storage offset"), std::string::npos);
  EXPECT_NE(parse(0, {-1}, {1}).find("negative or huge size"), std::string::npos);
  EXPECT_EQ(parse(0, {0, big}, {big, big}), "");  // empty: reaches nothing
}

TEST(TorchFile, ThePickleMachineKeepsSharedObjectsShared) {
  // d = {}; d['k'] = d  (memoized, then set on itself): no copy, no loop.
  const std::vector<uint8_t> bytes{0x80, 0x02, '}', 'q', 0, 'X', 1, 0, 0, 0, 'k', 'h', 0, 's', '.'};
  const pickle::Unpickled p = pickle::unpickle(bytes, "self.pkl");
  const pickle::Object& d = p.at(p.root);
  ASSERT_EQ(d.kind, pickle::Kind::Dict);
  ASSERT_EQ(d.items.size(), 2u);
  EXPECT_EQ(d.items[1], p.root);
  EXPECT_NE(error_of([] {
              pickle::unpickle(std::vector<uint8_t>{0x80, 0x02, 'h', 3, '.'}, "x");
            }).find("reads memo entry 3, never stored"),
            std::string::npos);
  EXPECT_NE(error_of([] {
              pickle::unpickle(std::vector<uint8_t>{0x80, 0x02, 'N'}, "x");
            }).find("ends without STOP"),
            std::string::npos);
}

TEST(TorchFile, EvalAndInspectReadTheTutorialsFile) {
  TempDir data;
  make_small_cifar(data, 4, 20);
  const std::string pth = fixture("torch_simplecnn.pth");
  const RunResult eval =
      run_cli("eval --device cpu --checkpoint " + pth + " --config " + source_dir() +
              "/configs/simplecnn.json --data " + data.path().string());
  ASSERT_EQ(eval.exit_code, 0) << eval.err;
  EXPECT_NE(eval.out.find("Accuracy of the network on the 20 test images: "), std::string::npos)
      << eval.out;
  const RunResult no_config =
      run_cli("eval --device cpu --checkpoint " + pth + " --data " + data.path().string());
  EXPECT_EQ(no_config.exit_code, 1);
  EXPECT_NE(no_config.err.find("carries no config in its metadata; pass --config FILE"),
            std::string::npos)
      << no_config.err;
  const RunResult inspect = run_cli("inspect " + pth);
  ASSERT_EQ(inspect.exit_code, 0) << inspect.err;
  EXPECT_NE(inspect.out.find("format: torch.save"), std::string::npos) << inspect.out;
  EXPECT_NE(inspect.out.find("fc1.weight F32 [120, 400]"), std::string::npos) << inspect.out;
}

// A small network with every kind of tensor a checkpoint holds: weights, a
// bias, batch-norm running statistics and its int64 num_batches_tracked.
Config small_bn_config() {
  nlohmann::json j = parse_json_text(Config::embedded_default(), "simplecnn.json");
  j["network"] = parse_json_text(R"({"name": "SmallBN", "input": [3, 8, 8], "layers": [
    {"type": "conv2d", "name": "conv", "in_channels": 3, "out_channels": 4, "kernel_size": 3,
     "padding": 1, "bias": false},
    {"type": "batchnorm2d", "name": "bn", "num_features": 4},
    {"type": "relu", "name": "relu"},
    {"type": "flatten", "name": "flatten"},
    {"type": "linear", "name": "fc", "in_features": 256, "out_features": 10}]})",
                                 "small.json");
  return Config::from_json(j, "small.json");
}

// FNV-1a over each tensor's name and bytes, in name order (the same in the Python check below).
uint64_t digest(const Safetensors& f) {
  uint64_t h = 0xcbf29ce484222325ULL;
  auto mix = [&h](const void* p, size_t n) {
    for (size_t i = 0; i < n; ++i) h = (h ^ static_cast<const uint8_t*>(p)[i]) * 0x100000001b3ULL;
  };
  std::vector<SafetensorsTensor> sorted = f.tensors;
  std::sort(sorted.begin(), sorted.end(),
            [](const auto& a, const auto& b) { return a.name < b.name; });
  for (const SafetensorsTensor& t : sorted) {
    mix(t.name.data(), t.name.size());
    mix(t.bytes.data(), t.bytes.size());
  }
  return h;
}

struct SavedBoth {
  TempDir dir;
  Context ctx{Device::CPU};
  Config config = small_bn_config();
  Network net = Network::from_json(config.network, "small.json");
  TrainingState state;
  SavedBoth() {
    net.setup(ctx, {2});
    Rng rng(5);
    net.initialize(rng);
    net.layer(1).set_counter("num_batches_tracked", 123456789012);
    state.steps = 77;
    state.epochs_completed = 1;
    save_checkpoint(dir.file("w.pth"), config, net, state);
    save_checkpoint(dir.file("w.safetensors"), config, net, state);
  }
};

TEST(TorchFile, ACheckpointEndingInPthIsATorchSaveFileThatReadsBackWhole) {
  SavedBoth s;
  const Checkpoint pth = read_checkpoint(s.dir.file("w.pth"));
  const Checkpoint st = read_checkpoint(s.dir.file("w.safetensors"));
  EXPECT_EQ(pth.file.metadata, st.file.metadata);  // config, training state, format
  ASSERT_TRUE(pth.config.has_value());
  EXPECT_EQ(pth.state.steps, 77);
  ASSERT_EQ(pth.file.tensors.size(), st.file.tensors.size());
  for (const SafetensorsTensor& t : st.file.tensors) {
    const SafetensorsTensor& u = get(pth.file, t.name);
    EXPECT_EQ(u.dtype, t.dtype) << t.name;
    EXPECT_EQ(u.shape, t.shape) << t.name;
    EXPECT_EQ(u.bytes, t.bytes) << t.name;
  }
  EXPECT_EQ(get(pth.file, "bn.num_batches_tracked").dtype, DType::I64);

  // torch.save's layout: data.pkl first, each record's data on a 64-byte boundary.
  const std::vector<uint8_t> bytes = read_bytes(s.dir.file("w.pth"));
  const ZipArchive zip(bytes, "w.pth");
  EXPECT_EQ(zip.entries().front().name, "archive/data.pkl");
  for (const ZipEntry& e : zip.entries())
    EXPECT_EQ((zip.read(e).data() - bytes.data()) % 64, 0) << e.name;
  EXPECT_NE(zip.find("archive/version"), nullptr);
  EXPECT_NE(zip.find("archive/cnnengine/metadata.json"), nullptr);
}

// A Python that has torch: $CNNE_TEST_PYTHON, python3, or Debian's
// /usr/bin/python3 (python3-torch); "" when none has.
std::string python_with_torch() {
  std::vector<std::string> candidates{"python3", "/usr/bin/python3"};
  if (const char* env = std::getenv("CNNE_TEST_PYTHON")) candidates.insert(candidates.begin(), env);
  for (const std::string& py : candidates)
    if (std::system((py + " -c 'import torch' > /dev/null 2>&1").c_str()) == 0) return py;
  return "";
}

// Both directions against the PyTorch at hand (1.13 here, the GPU machine's
// 2.x in the device check): torch.load(weights_only=True) reads our file with
// every tensor's bytes intact, and what that PyTorch's torch.save writes of it
// reads back here the same.
TEST(TorchFile, PyTorchLoadsOurCheckpointAndWeReadWhatItSaves) {
  const std::string python = python_with_torch();
  if (python.empty()) GTEST_SKIP() << "no Python with torch (apt-get install python3-torch)";
  SavedBoth s;
  const std::string script = s.dir.file("load.py"), result = s.dir.file("digest.txt"),
                    resaved = s.dir.file("resaved.pth");
  std::ofstream(script) << R"(import sys, torch
sd = torch.load(sys.argv[1], weights_only=True)
h = 0xcbf29ce484222325
for name, t in sorted(sd.items()):
    for b in name.encode() + t.contiguous().numpy().tobytes():
        h = ((h ^ b) * 0x100000001b3) & 0xffffffffffffffff
torch.save(sd, sys.argv[2])
n = sd['bn.num_batches_tracked']
print('%016x %s %d' % (h, n.dtype, n.item()))
)";
  ASSERT_EQ(std::system(
                (python + " " + script + " " + s.dir.file("w.pth") + " " + resaved + " > " + result)
                    .c_str()),
            0);
  std::string line;
  std::getline(std::ifstream(result), line);
  const uint64_t ours = digest(read_checkpoint(s.dir.file("w.safetensors")).file);
  char expected[64];
  std::snprintf(expected, sizeof expected, "%016llx torch.int64 123456789012",
                static_cast<unsigned long long>(ours));
  EXPECT_EQ(line, expected);
  const Safetensors back = load_tensor_file(resaved);
  EXPECT_EQ(back.metadata.count("config"), 0u);  // PyTorch keeps only the tensors
  EXPECT_EQ(digest(back), ours);
}

TEST(TorchFile, TrainEvalAndResumeWithAPthCheckpoint) {
  TempDir data, out;
  make_small_cifar(data, 8, 20);
  const std::string ckpt = out.file("cnn_model.pth"),
                    flags = " --device cpu --data " + data.path().string();
  const RunResult train = run_cli("train --epochs 1 --out " + ckpt + flags);
  ASSERT_EQ(train.exit_code, 0) << train.err;
  EXPECT_NE(train.out.find("Model saved to " + ckpt), std::string::npos) << train.out;
  const RunResult eval = run_cli("eval --checkpoint " + ckpt + flags);
  ASSERT_EQ(eval.exit_code, 0) << eval.err;
  const std::string line = "Accuracy of the network on the 20 test images: ";
  const size_t a = train.out.find(line), b = eval.out.find(line);
  ASSERT_NE(a, std::string::npos);
  ASSERT_NE(b, std::string::npos);
  EXPECT_EQ(train.out.substr(a, line.size() + 6), eval.out.substr(b, line.size() + 6));
  // A .safetensors run of the same name in the same folder keeps its own optimizer file.
  const std::string twin = out.file("cnn_model.safetensors");
  ASSERT_EQ(run_cli("train --epochs 1 --out " + twin + flags).exit_code, 0);
  const RunResult resume = run_cli("train --resume " + ckpt + " --epochs 2" + flags);
  ASSERT_EQ(resume.exit_code, 0) << resume.err;
  EXPECT_EQ(read_checkpoint(ckpt).state.epochs_completed, 2);
  EXPECT_TRUE(std::filesystem::exists(out.file("cnn_model.pth.optimizer.step-20.safetensors")));
  EXPECT_TRUE(std::filesystem::exists(out.file("cnn_model.optimizer.step-10.safetensors")));
  const RunResult resume_twin = run_cli("train --resume " + twin + " --epochs 2" + flags);
  EXPECT_EQ(resume_twin.exit_code, 0) << resume_twin.err;
}

}  // namespace
}  // namespace cnne::test
