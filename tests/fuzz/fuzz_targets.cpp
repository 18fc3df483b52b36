#include "tests/fuzz/fuzz_targets.h"

#include <unistd.h>

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <string>
#include <vector>

#include "engine/checkpoint.h"
#include "engine/cifar10.h"
#include "engine/cifar_python.h"
#include "engine/config.h"
#include "engine/error.h"
#include "engine/idx.h"
#include "engine/image_file.h"
#include "engine/image_resize.h"
#include "engine/network.h"
#include "engine/ops.h"
#include "engine/optimizer.h"
#include "engine/torch_file.h"
#include "tests/zip_writer.h"

namespace cnne::fuzz {

void image_one(const uint8_t* data, size_t size) {
  try {
    const DecodedImage image = decode_image({data, size}, "fuzz.png");
    if (image.height * image.width <= (1 << 16)) {  // keep each input cheap
      (void)to_network_input(image, 3, 32, 32);
      (void)to_network_input(image, 1, 28, 28);
    }
  } catch (const Error&) {
  }
}

void config_one(const uint8_t* data, size_t size) {
  try {
    const std::string text(reinterpret_cast<const char*>(data), size);
    const Config c = Config::from_json(parse_json_text(text, "fuzz.json"), "fuzz.json");
    Network net = Network::from_json(c.network, "fuzz.json");
    if (net.parameter_count() < (1 << 22)) {  // keep each input cheap
      Context ctx(Device::CPU);
      net.setup(ctx, {1});
      int64_t flops = 0;
      for (const LayerSummary& row : net.summarize(1)) flops += row.flops;
      (void)Config::from_json(c.to_json(), "round-trip");
      if (flops < (1 << 22)) {  // one forward and backward pass of a zero image
        ops::fill(ctx, net.input(1), 0.0f);
        net.forward(1);
        ops::fill(ctx, net.output_grad(1), 1.0f);
        net.backward(1);
      }
    }
  } catch (const Error&) {
  }
}

void cifar_one(const uint8_t* data, size_t size) {
  // The same bytes as CIFAR-10 records and as CIFAR-100's (two label bytes),
  // and as the Python version's pickled batch and meta files.
  for (const cifar10::RecordFormat* format :
       {&cifar10::kCifar10Records, &cifar10::kCifar100Records})
    try {
      ImageDataset set;
      cifar10::append_records(data, size, "fuzz.bin", set, *format);
    } catch (const Error&) {
    }
  try {
    ImageDataset set;
    cifar_python::append_batch({data, size}, "fuzz_batch", 0, cifar_python::kCifar10Python, set);
  } catch (const Error&) {
  }
  try {
    (void)cifar_python::parse_names({data, size}, "fuzz.meta", cifar_python::kCifar10Python);
  } catch (const Error&) {
  }
}

void idx_one(const uint8_t* data, size_t size) {
  if (size < 2) return;
  const size_t split = std::min<size_t>(size - 2, data[0] | (size_t(data[1]) << 8));
  // The reader takes paths (zlib reads gzip and plain files alike): one pair
  // of files per process, removed at its exit.
  struct ScratchDir {
    std::filesystem::path path =
        std::filesystem::temp_directory_path() / ("cnne-fuzz-idx-" + std::to_string(getpid()));
    ScratchDir() { std::filesystem::create_directories(path); }
    ~ScratchDir() {
      std::error_code ec;
      std::filesystem::remove_all(path, ec);
    }
  };
  static const ScratchDir scratch;
  const std::filesystem::path& dir = scratch.path;
  const auto write = [](const std::filesystem::path& path, const uint8_t* bytes, size_t n) {
    std::ofstream out(path, std::ios::binary | std::ios::trunc);
    out.write(reinterpret_cast<const char*>(bytes), static_cast<std::streamsize>(n));
  };
  write(dir / "images", data + 2, split);
  write(dir / "labels", data + 2 + split, size - 2 - split);
  try {
    (void)idx::read_pair((dir / "images").string(), (dir / "labels").string(), 0, 10);
    (void)idx::read_pair((dir / "images").string(), (dir / "labels").string(), 3, 10);
  } catch (const Error&) {
  }
}

void checkpoint_one(const uint8_t* data, size_t size) {
  static Context ctx(Device::CPU);
  static Network net = [] {
    const Config c = Config::from_json(
        parse_json_text(Config::embedded_default(), "simplecnn.json"), "simplecnn.json");
    Network n = Network::from_json(c.network, "simplecnn.json");
    n.setup(ctx, {1});
    return n;
  }();
  try {
    const Checkpoint c = interpret_checkpoint(
        parse_safetensors(std::vector<uint8_t>(data, data + size), "fuzz"), "fuzz");
    load_weights(c.file, "fuzz", net);
    OptimizerConfig sgd;
    SgdOptimizer optimizer(ctx, net, sgd);
    optimizer.import_state(c.file, "fuzz", net);
  } catch (const Error&) {
  }
}

void torch_one(const uint8_t* data, size_t size) {
  if (size < 1) return;
  std::vector<uint8_t> archive(data + 1, data + size);
  if (data[0] & 1) {
    std::vector<test::ZipInput> entries{{"f/data.pkl", archive}, {"f/version", {'3'}}};
    for (int k = 0; k < 16; ++k)
      entries.push_back({"f/data/" + std::to_string(k), std::vector<uint8_t>(4096, uint8_t(k))});
    archive = test::make_zip(entries);
  }
  try {
    (void)parse_torch_file(archive, "fuzz.pth");
  } catch (const Error&) {
  }
}

}  // namespace cnne::fuzz
