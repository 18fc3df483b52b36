// cnnengine inspect FILE: validates a checkpoint and shows what it holds.
#include <algorithm>
#include <cstdio>
#include <filesystem>
#include <iostream>

#include "engine/checkpoint.h"
#include "engine/checkpoint_saver.h"
#include "engine/error.h"
#include "tools/cli_args.h"
#include "tools/commands.h"

namespace cnne::cli {
namespace {

// FNV-1a over every tensor's name and bytes, in name order: equal digests mean
// equal weights, bit for bit.
uint64_t weights_digest(const Safetensors& file) {
  std::vector<const SafetensorsTensor*> sorted;
  for (const auto& t : file.tensors) sorted.push_back(&t);
  std::sort(sorted.begin(), sorted.end(),
            [](const auto* a, const auto* b) { return a->name < b->name; });
  uint64_t h = 0xcbf29ce484222325ULL;
  auto mix = [&h](const uint8_t* p, size_t n) {
    for (size_t i = 0; i < n; ++i) h = (h ^ p[i]) * 0x100000001b3ULL;
  };
  for (const auto* t : sorted) {
    mix(reinterpret_cast<const uint8_t*>(t->name.data()), t->name.size());
    mix(t->bytes.data(), t->bytes.size());
  }
  return h;
}

}  // namespace

int run_inspect(int argc, char** argv, int first) {
  CliArgs args("inspect", {}, 1, argc, argv, first);
  if (args.help_requested() || args.positionals().empty()) {
    if (!args.help_requested()) throw UsageError("inspect needs a checkpoint FILE");
    std::cout << args.help_text("FILE",
                                "Validates a checkpoint (and its optimizer-state file, if it names "
                                "one) and prints\nits tensors, training state and a digest of the "
                                "weights. Exits 0 only when it is whole.");
    return 0;
  }
  const std::string path = args.positionals()[0];
  const Checkpoint c = read_checkpoint(path);
  std::cout << "checkpoint: " << path << "\n";
  for (const auto& [key, value] : c.file.metadata)
    if (key != "config" && key != "training_state") std::cout << key << ": " << value << "\n";
  int64_t params = 0;
  for (const auto& t : c.file.tensors) {
    std::cout << "  " << t.name << " " << dtype_name(t.dtype) << " " << t.shape.str() << "\n";
    params += t.shape.numel();
  }
  char digest[32];
  std::snprintf(digest, sizeof digest, "%016llx",
                static_cast<unsigned long long>(weights_digest(c.file)));
  std::cout << "tensors: " << c.file.tensors.size() << ", elements: " << params
            << "\nweights digest: " << digest << "\n";
  if (c.config) std::cout << "network: " << c.config->network.value("name", "?") << "\n";
  if (c.file.metadata.count("training_state")) {
    std::cout << "training state: " << c.state.to_json().dump() << "\n";
    if (!c.state.optimizer_file.empty()) {
      const ResumePoint r = read_resume_point(path);  // validates the pair
      std::cout << "optimizer state: " << r.optimizer_path << " (" << r.optimizer.tensors.size()
                << " tensors, step " << r.optimizer.metadata.at("steps") << ")\n";
      // Note [averaged weights in checkpoints] (engine/weight_average.h)
      const auto& meta = r.optimizer.metadata;
      if (const auto ema = meta.find("ema_updates"); ema != meta.end()) {
        const auto kind = meta.find("weight_average");
        if (kind != meta.end() && kind->second == "swa")
          std::cout << "weights: a stochastic weight average of " << ema->second
                    << " epochs (training.swa); the training weights are in the optimizer "
                       "state\n";
        else if (const auto decay = meta.find("ema_decay"); decay != meta.end())
          std::cout << "weights: an exponential moving average (decay " << decay->second << ", "
                    << ema->second
                    << " updates); the training weights are in the optimizer state\n";
      }
    }
  }
  return 0;
}

}  // namespace cnne::cli
