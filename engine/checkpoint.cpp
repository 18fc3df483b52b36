#include "engine/checkpoint.h"

#include <fnmatch.h>

#include <algorithm>
#include <cstring>

#include "engine/error.h"
#include "engine/half.h"
#include "engine/tensor_file.h"
#include "engine/torch_file.h"

namespace cnne {

void save_checkpoint(const std::string& path, const Config& config, const Network& net,
                     const TrainingState& state) {
  Safetensors file;
  const std::vector<float> params = net.download_parameters();
  for (const NamedParam& p : net.parameters())
    file.add(p.name, Tensor(const_cast<float*>(params.data()) + p.offset, p.shape));
  const std::vector<float> buffers = net.download_buffers();
  for (const NamedParam& b : net.buffers())
    file.add(b.name, Tensor(const_cast<float*>(buffers.data()) + b.offset, b.shape));
  for (size_t l = 0; l < net.layer_count(); ++l)
    for (auto [name, value] : net.layer(l).counters()) {
      Tensor scalar;
      scalar.data = &value;
      scalar.dtype = DType::I64;  // PyTorch's num_batches_tracked is a 0-d int64 tensor
      file.add(net.layer(l).name() + "." + name, scalar);
    }
  Config stored = config;
  stored.network = net.to_json();  // the network as built, defaults made explicit
  file.metadata["format"] = kCheckpointFormat;
  file.metadata["producer"] = "cnnengine";
  file.metadata["config"] = stored.to_json().dump();
  file.metadata["training_state"] = state.to_json().dump();
  if (is_torch_file_path(path))
    save_torch_file(path, file);  // torch.load reads it; so does read_checkpoint
  else
    save_safetensors(path, file);
}

Checkpoint read_checkpoint(const std::string& path) {
  return interpret_checkpoint(load_tensor_file(path), path);
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

namespace {

bool matches_any(const std::string& name, const std::vector<std::string>& patterns) {
  for (const std::string& p : patterns)
    if (fnmatch(p.c_str(), name.c_str(), 0) == 0) return true;
  return false;
}

// Copies tensor `t` (the expected shape) into host floats at `dst`: F32 as
// is, BF16/F16 (a state_dict saved in half precision) widened exactly.
void take_f32(const SafetensorsTensor& t, const NamedParam& p, const std::string& path,
              float* dst) {
  if (t.dtype != DType::F32 && !is_half(t.dtype))
    throw CheckpointError(path + ": tensor '" + p.name + "' is " + dtype_name(t.dtype) +
                          ", expected F32 (or BF16/F16)");
  if (!(t.shape == p.shape))
    throw CheckpointError(path + ": tensor '" + p.name + "' has shape " + t.shape.str() +
                          ", the network expects " + p.shape.str());
  convert_host(t.bytes.data(), t.dtype, dst, DType::F32, static_cast<size_t>(p.shape.numel()));
}

int64_t scalar_value(const SafetensorsTensor& t, const std::string& path) {
  if (t.shape.numel() != 1)
    throw CheckpointError(path + ": tensor '" + t.name + "' has shape " + t.shape.str() +
                          ", expected a scalar");
  switch (t.dtype) {
    case DType::I64: {
      int64_t v;
      std::memcpy(&v, t.bytes.data(), 8);
      return v;
    }
    case DType::I32: {
      int32_t v;
      std::memcpy(&v, t.bytes.data(), 4);
      return v;
    }
    case DType::F32: {
      float v;
      std::memcpy(&v, t.bytes.data(), 4);
      return static_cast<int64_t>(v);
    }
    default:
      throw CheckpointError(path + ": tensor '" + t.name + "' is " + dtype_name(t.dtype) +
                            ", expected an integer scalar");
  }
}

}  // namespace

LoadReport load_weights(const Safetensors& file, const std::string& path, Network& net,
                        const std::vector<std::string>& skip) {
  LoadReport report;
  // The file's tensors by the names the network would give them.
  const std::string wrapper = "module.";
  const auto wrapped = [&](const std::string& name) { return name.rfind(wrapper, 0) == 0; };
  const bool net_wrapped = !net.parameters().empty() && wrapped(net.parameters()[0].name);
  const bool strip = !file.tensors.empty() && !net_wrapped &&
                     std::all_of(file.tensors.begin(), file.tensors.end(),
                                 [&](const SafetensorsTensor& t) { return wrapped(t.name); });
  if (strip) report.stripped_prefix = wrapper;
  const auto name_of = [&](const SafetensorsTensor& t) {
    return strip ? t.name.substr(wrapper.size()) : t.name;
  };
  const auto find = [&](const std::string& name) -> const SafetensorsTensor* {
    return file.find(strip ? wrapper + name : name);
  };
  std::vector<float> params = net.download_parameters();  // skipped tensors keep their values
  std::vector<float> buffers = net.download_buffers();
  std::vector<std::string> known;
  auto missing = [&](const std::string& name, const Shape& shape) {
    return CheckpointError(path + ": missing tensor '" + name + "' (network '" + net.name() +
                           "' expects " + shape.str() + "); is it from a different network?");
  };
  auto load_layout = [&](const std::vector<NamedParam>& layout, std::vector<float>& host) {
    for (const NamedParam& p : layout) {
      known.push_back(p.name);
      if (matches_any(p.name, skip)) {
        report.skipped.push_back(p.name);
        continue;
      }
      const SafetensorsTensor* t = find(p.name);
      if (!t) throw missing(p.name, p.shape);
      take_f32(*t, p, path, host.data() + p.offset);
      ++report.loaded;
    }
  };
  load_layout(net.parameters(), params);
  load_layout(net.buffers(), buffers);
  for (size_t l = 0; l < net.layer_count(); ++l)
    for (const auto& [counter, value] : net.layer(l).counters()) {
      const std::string name = net.layer(l).name() + "." + counter;
      known.push_back(name);
      if (matches_any(name, skip)) continue;
      const SafetensorsTensor* t = find(name);
      if (!t) throw missing(name, Shape{});
      net.layer(l).set_counter(counter, scalar_value(*t, path));
      (void)value;
    }
  for (const SafetensorsTensor& t : file.tensors) {
    const std::string name = name_of(t);
    if (std::find(known.begin(), known.end(), name) != known.end()) continue;
    if (matches_any(name, skip)) {
      report.skipped.push_back(name);
      continue;
    }
    throw CheckpointError(path + ": unexpected tensor '" + t.name + "': network '" + net.name() +
                          "' has no such parameter or buffer; is it from a different network?");
  }
  net.upload_parameters(params);
  net.upload_buffers(buffers);
  return report;
}

}  // namespace cnne
