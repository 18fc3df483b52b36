#pragma once
// Checkpoints: safetensors files whose tensors are the network's parameters
// under their PyTorch state_dict names (conv1.weight, ..., fc3.bias), with the
// config and the training state as JSON strings in __metadata__. A PyTorch
// user loads one with safetensors.torch.load_file + load_state_dict.
// docs/CHECKPOINT.md is the format's reference.
#include <optional>
#include <string>

#include <nlohmann/json.hpp>

#include "engine/config.h"
#include "engine/network.h"
#include "engine/safetensors.h"
#include "engine/training_state.h"

namespace cnne {

constexpr const char* kCheckpointFormat = "cnnengine.checkpoint.v1";

// Writes atomically: a crash mid-write leaves the previous file intact.
void save_checkpoint(const std::string& path, const Config& config, const Network& net,
                     const TrainingState& state);

struct Checkpoint {
  Safetensors file;
  std::optional<Config> config;  // absent in plain state_dict files (e.g. from PyTorch)
  TrainingState state;
};

// Reads and validates the file and its metadata; errors name the path.
Checkpoint read_checkpoint(const std::string& path);
// The metadata checks of read_checkpoint on a file already parsed.
Checkpoint interpret_checkpoint(Safetensors file, const std::string& path);

// Copies the checkpoint's tensors into net's parameters, buffers and counters
// (net must be set up). Every one must be present with its shape (F32;
// counters as integer scalars), and the file may hold nothing else: errors
// name the path and the tensor. Names matching a `skip` pattern (shell
// wildcards: "fc.*") are left as they are, on either side: that is how a
// pretrained model's head or stem is replaced (transfer learning).
// A state_dict saved from nn.DataParallel or DistributedDataParallel names
// every tensor "module.<name>"; when all of the file's names carry that
// prefix and the network's do not, it is read without it (and reported).
struct LoadReport {
  int64_t loaded = 0;
  std::vector<std::string> skipped;
  std::string stripped_prefix;  // "module." when the file's names carried it
};
LoadReport load_weights(const Safetensors& file, const std::string& path, Network& net,
                        const std::vector<std::string>& skip = {});

}  // namespace cnne
