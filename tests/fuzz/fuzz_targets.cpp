#include "tests/fuzz/fuzz_targets.h"

#include <string>
#include <vector>

#include "engine/checkpoint.h"
#include "engine/cifar10.h"
#include "engine/config.h"
#include "engine/error.h"
#include "engine/network.h"
#include "engine/optimizer.h"

namespace cnne::fuzz {

void config_one(const uint8_t* data, size_t size) {
  try {
    const std::string text(reinterpret_cast<const char*>(data), size);
    const Config c = Config::from_json(parse_json_text(text, "fuzz.json"), "fuzz.json");
    Network net = Network::from_json(c.network, "fuzz.json");
    if (net.parameter_count() < (1 << 22)) {  // keep each input cheap
      Context ctx(Device::CPU);
      net.setup(ctx, {1});
      (void)net.summarize(1);
      (void)Config::from_json(c.to_json(), "round-trip");
    }
  } catch (const Error&) {
  }
}

void cifar_one(const uint8_t* data, size_t size) {
  try {
    ImageDataset set;
    cifar10::append_records(data, size, "fuzz.bin", set);
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

}  // namespace cnne::fuzz
