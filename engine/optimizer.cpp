#include "engine/optimizer.h"

#include <cstring>

#include "engine/error.h"
#include "engine/ops.h"

namespace cnne {

SgdOptimizer::SgdOptimizer(Context& ctx, const Network& net, const SgdHyper& hyper)
    : ctx_(ctx), hyper_(hyper), momentum_(ctx.device(), net.flat_parameters().bytes()) {
  ops::fill(ctx_, momentum(), 0.0f);
}

Tensor SgdOptimizer::momentum() const {
  return Tensor(static_cast<float*>(momentum_.data()),
                Shape{static_cast<int64_t>(momentum_.bytes() / sizeof(float))}, ctx_.device());
}

void SgdOptimizer::step(Network& net) {
  ops::sgd_update(ctx_, hyper_, steps_ == 0, net.flat_parameters(), net.flat_gradients(),
                  momentum());
  ++steps_;
}

Safetensors SgdOptimizer::export_state(const Network& net) const {
  std::vector<float> host(static_cast<size_t>(momentum().numel()));
  copy_tensor(momentum(), Tensor(host.data(), momentum().shape));
  Safetensors file;
  if (steps_ > 0 && hyper_.momentum != 0.0f)
    for (const NamedParam& p : net.parameters())
      file.add(p.name + ".momentum_buffer", Tensor(host.data() + p.offset, p.shape));
  file.metadata["optimizer"] = "sgd";
  file.metadata["steps"] = std::to_string(steps_);
  return file;
}

void SgdOptimizer::import_state(const Safetensors& file, const std::string& path,
                                const Network& net) {
  auto meta = file.metadata.find("steps");
  if (meta == file.metadata.end() || file.metadata.count("optimizer") == 0 ||
      file.metadata.at("optimizer") != "sgd")
    throw CheckpointError(path + ": not an SGD optimizer state (metadata optimizer/steps)");
  int64_t steps = 0;
  try {
    steps = std::stoll(meta->second);
  } catch (const std::exception&) {
    throw CheckpointError(path + ": metadata steps '" + meta->second + "' is not a number");
  }
  std::vector<float> host(static_cast<size_t>(momentum().numel()), 0.0f);
  const bool has_buffers = !file.tensors.empty();
  if (has_buffers) {
    if (file.tensors.size() != net.parameters().size())
      throw CheckpointError(path + ": holds " + std::to_string(file.tensors.size()) +
                            " momentum buffers, the network has " +
                            std::to_string(net.parameters().size()) + " parameters");
    for (const NamedParam& p : net.parameters()) {
      const SafetensorsTensor* t = file.find(p.name + ".momentum_buffer");
      if (!t || t->dtype != DType::F32 || !(t->shape == p.shape))
        throw CheckpointError(path + ": missing or mis-shaped '" + p.name +
                              ".momentum_buffer' (expected F32 " + p.shape.str() + ")");
      std::memcpy(host.data() + p.offset, t->bytes.data(), t->bytes.size());
    }
  } else if (steps > 0 && hyper_.momentum != 0.0f) {
    throw CheckpointError(path + ": has no momentum buffers after " + std::to_string(steps) +
                          " steps of SGD with momentum");
  }
  copy_tensor(Tensor(host.data(), momentum().shape), momentum());
  steps_ = steps;
}

}  // namespace cnne
