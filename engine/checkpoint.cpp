#include "engine/checkpoint.h"

#include <cstring>

#include "engine/error.h"

namespace cnne {

void save_checkpoint(const std::string& path, const Config& config, const Network& net,
                     const TrainingState& state) {
  Safetensors file;
  const std::vector<float> host = net.download_parameters();
  for (const NamedParam& p : net.parameters())
    file.add(p.name, Tensor(const_cast<float*>(host.data()) + p.offset, p.shape));
  Config stored = config;
  stored.network = net.to_json();  // the network as built, defaults made explicit
  file.metadata["format"] = kCheckpointFormat;
  file.metadata["producer"] = "cnnengine";
  file.metadata["config"] = stored.to_json().dump();
  file.metadata["training_state"] = state.to_json().dump();
  save_safetensors(path, file);
}

Checkpoint read_checkpoint(const std::string& path) {
  return interpret_checkpoint(load_safetensors(path), path);
}

Checkpoint interpret_checkpoint(Safetensors file, const std::string& path) {
  Checkpoint c;
  c.file = std::move(file);
  const auto& meta = c.file.metadata;
  if (auto it = meta.find("config"); it != meta.end()) {
    nlohmann::json j;
    try {
      j = nlohmann::json::parse(it->second);
    } catch (const nlohmann::json::exception&) {
      throw CheckpointError(path + ": __metadata__.config is not valid JSON");
    }
    try {
      c.config = Config::from_json(j, path + " (stored config)");
    } catch (const ConfigError& e) {
      throw CheckpointError(e.what());
    }
  }
  if (auto it = meta.find("training_state"); it != meta.end()) {
    try {
      c.state = TrainingState::from_json(nlohmann::json::parse(it->second), path);
    } catch (const nlohmann::json::exception&) {
      throw CheckpointError(path + ": __metadata__.training_state is not valid JSON state");
    }
  }
  return c;
}

void load_weights(const Safetensors& file, const std::string& path, Network& net) {
  std::vector<float> host(static_cast<size_t>(net.flat_parameters().numel()), 0.0f);
  for (const NamedParam& p : net.parameters()) {
    const SafetensorsTensor* t = file.find(p.name);
    if (!t)
      throw CheckpointError(path + ": missing tensor '" + p.name + "' (network '" + net.name() +
                            "' expects " + p.shape.str() + "); is it from a different network?");
    if (t->dtype != DType::F32)
      throw CheckpointError(path + ": tensor '" + p.name + "' is " + dtype_name(t->dtype) +
                            ", expected F32");
    if (!(t->shape == p.shape))
      throw CheckpointError(path + ": tensor '" + p.name + "' has shape " + t->shape.str() +
                            ", the network expects " + p.shape.str());
    std::memcpy(host.data() + p.offset, t->bytes.data(), t->bytes.size());
  }
  for (const SafetensorsTensor& t : file.tensors) {
    bool known = false;
    for (const NamedParam& p : net.parameters()) known = known || p.name == t.name;
    if (!known)
      throw CheckpointError(path + ": unexpected tensor '" + t.name + "': network '" + net.name() +
                            "' has no such parameter; is it from a different network?");
  }
  net.upload_parameters(host);
}

}  // namespace cnne
