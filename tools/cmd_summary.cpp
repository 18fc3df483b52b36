// cnnengine summary [CONFIG]: the model printout (PyTorch's print(net)) and a
// table of output shapes, parameter counts and forward FLOPs.
#include <algorithm>
#include <cstdio>
#include <iostream>

#include "engine/config.h"
#include "engine/network.h"
#include "tools/commands.h"
#include "tools/session.h"

namespace cnne::cli {
namespace {

// 1234567 -> "1,234,567"
std::string grouped(int64_t v) {
  std::string digits = std::to_string(v), out;
  for (size_t i = 0; i < digits.size(); ++i) {
    if (i && (digits.size() - i) % 3 == 0) out += ',';
    out += digits[i];
  }
  return out;
}

}  // namespace

int run_summary(int argc, char** argv, int first) {
  CliArgs args("summary", {{"batch-size", "N", "batch size for the shapes and FLOPs (default 1)"}},
               1, argc, argv, first);
  if (args.help_requested()) {
    std::cout << args.help_text("[CONFIG] [options]",
                                "Prints the network of CONFIG (default: the built-in tutorial):\n"
                                "the PyTorch-style model printout, then each layer's output "
                                "shape,\nparameter count and forward FLOPs, and the totals.");
    return 0;
  }
  const std::string source =
      args.positionals().empty() ? "<built-in configs/simplecnn.json>" : args.positionals()[0];
  const Config config =
      args.positionals().empty()
          ? Config::from_json(parse_json_text(Config::embedded_default(), source), source)
          : Config::load(source);
  const int64_t batch = args.integer("batch-size", 1, 65536).value_or(1);
  const Network net = Network::from_json(config.network, source);

  std::cout << net.repr() << "\n\n";
  const std::vector<LayerSummary> rows = net.summarize(batch);
  int name_width = 12, type_width = 10;
  for (const LayerSummary& row : rows) {
    name_width = std::max(name_width, static_cast<int>(row.name.size()));
    type_width = std::max(type_width, static_cast<int>(row.type.size()));
  }
  const auto rule = static_cast<size_t>(name_width + type_width + 20 + 12 + 16 + 4);
  char line[400];
  std::snprintf(line, sizeof line, "%-*s %-*s %-20s %12s %16s\n", name_width, "Layer", type_width,
                "Type", "Output shape", "Params", "Forward FLOPs");
  std::cout << line << std::string(rule, '-') << "\n";
  int64_t params = 0, flops = 0;
  std::snprintf(line, sizeof line, "%-*s %-*s %-20s %12s %16s\n", name_width, "input", type_width,
                "", net.input_shape().with_batch(batch).str().c_str(), "0", "0");
  std::cout << line;
  for (const LayerSummary& row : rows) {
    std::snprintf(line, sizeof line, "%-*s %-*s %-20s %12s %16s\n", name_width, row.name.c_str(),
                  type_width, row.type.c_str(), row.output.str().c_str(),
                  grouped(row.params).c_str(), grouped(row.flops).c_str());
    std::cout << line;
    params += row.params;
    flops += row.flops;
  }
  std::cout << std::string(rule, '-') << "\n";
  std::snprintf(line, sizeof line, "Total parameters: %s (%.1f KiB as float32)\n",
                grouped(params).c_str(), static_cast<double>(params) * 4.0 / 1024.0);
  std::cout << line;
  std::snprintf(line, sizeof line,
                "Forward FLOPs for a batch of %lld: %s (a training step is about 3x that)\n",
                static_cast<long long>(batch), grouped(flops).c_str());
  std::cout << line;
  const std::vector<std::string> fused = net.fused_relus();
  if (!fused.empty()) {
    std::cout << "ReLUs fused into their producer when run (--no-fusion keeps them apart):";
    for (const std::string& pair : fused) std::cout << " " << pair;
    std::cout << "\n";
  }
  const Precision precision = config.training.precision;
  if (precision == Precision::FP32)
    std::cout << "Precision: fp32 (training.precision)\n";
  else
    std::cout << "Precision: " << precision_name(precision)
              << " activations and activation gradients, fp32 master weights, gradients and "
                 "optimizer state ("
              << describe_loss_scaling(config.training) << ")\n";
  return 0;
}

}  // namespace cnne::cli
