#include "layers/concat.h"

#include "engine/error.h"
#include "engine/network.h"
#include "engine/ops.h"

namespace cnne {

Concat::Concat(std::string name, size_t inputs) : Layer(std::move(name)), inputs_(inputs) {
  if (inputs_ < 2 || inputs_ > kMaxLayerInputs)
    throw ConfigError(where() + ": \"inputs\" must name 2 to " + std::to_string(kMaxLayerInputs) +
                      " layers to concatenate, got " + std::to_string(inputs_));
}

std::unique_ptr<Layer> Concat::from_json(const std::string& name, JsonFields& f) {
  return std::make_unique<Concat>(name, f.get_strings("inputs", {}).size());
}

Shape Concat::output_shape_of(std::span<const Shape> in) const {
  Shape out = in[0];
  if (out.rank() != 2 && out.rank() != 4)
    throw ConfigError(where() + ": concatenates (N, C, H, W) or (N, F) inputs, got " + out.str());
  for (size_t i = 1; i < in.size(); ++i) {
    bool alike = in[i].rank() == out.rank();
    for (int d = 0; alike && d < out.rank(); ++d) alike = d == 1 || in[i][d] == out[d];
    if (!alike)
      throw ConfigError(where() + ": input " + std::to_string(i + 1) + " is " + in[i].str() +
                        " but input 1 is " + in[0].str() +
                        "; they may differ in dimension 1 (channels) only");
    out[1] += in[i][1];
  }
  return out;
}

void Concat::forward_of(Context& ctx, std::span<const Tensor> xs, const Tensor& y) {
  int64_t first = 0;
  for (const Tensor& x : xs) {
    ops::copy_channels(ctx, x, 0, y, first, x.shape[1]);
    first += x.shape[1];
  }
}

void Concat::backward_of(Context& ctx, std::span<const Tensor> xs, const Tensor&, const Tensor& dy,
                         std::span<const Tensor* const> dxs) {
  int64_t first = 0;
  for (size_t i = 0; i < xs.size(); ++i) {
    if (dxs[i]) ops::copy_channels(ctx, dy, first, *dxs[i], 0, xs[i].shape[1]);
    first += xs[i].shape[1];
  }
}

nlohmann::json Concat::to_json() const {
  return {{"type", type()}, {"name", name()}};  // the Network writes "inputs"
}

}  // namespace cnne
