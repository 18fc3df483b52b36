#include "layers/mul.h"

#include "engine/error.h"
#include "engine/ops.h"

namespace cnne {

std::unique_ptr<Layer> Mul::from_json(const std::string& name, JsonFields&) {
  return std::make_unique<Mul>(name);
}

Shape Mul::output_shape_of(std::span<const Shape> in) const {
  if (in.size() != 2) throw ConfigError(where() + ": multiplies two inputs");
  if (in[0] == in[1]) return in[0];
  const size_t m = map_input(in[0], in[1]);
  const Shape &map = in[m], &gate = in[1 - m];
  const bool gate_fits = map.rank() == 4 && gate[0] == map[0] && gate[1] == map[1] &&
                         (gate.rank() == 2 || (gate.rank() == 4 && gate[2] == 1 && gate[3] == 1));
  if (!gate_fits)
    throw ConfigError(where() +
                      ": multiplies two inputs of the same shape, or an (N, C, H, W) "
                      "map by an (N, C, 1, 1) or (N, C) gate, got " +
                      in[0].str() + " and " + in[1].str());
  return map;
}

int64_t Mul::forward_flops_of(std::span<const Shape> in) const {
  return in[map_input(in[0], in[1])].numel();
}

void Mul::forward_of(Context& ctx, std::span<const Tensor> xs, const Tensor& y) {
  const size_t m = map_input(xs[0].shape, xs[1].shape);
  ops::mul_forward(ctx, xs[m], xs[1 - m], y);
}

void Mul::backward_of(Context& ctx, std::span<const Tensor> xs, const Tensor&, const Tensor& dy,
                      std::span<const Tensor* const> dxs) {
  const size_t m = map_input(xs[0].shape, xs[1].shape);
  if (dxs[m] || dxs[1 - m]) ops::mul_backward(ctx, xs[m], xs[1 - m], dy, dxs[m], dxs[1 - m]);
}

nlohmann::json Mul::to_json() const {
  return {{"type", type()}, {"name", name()}};  // the Network writes "inputs"
}

}  // namespace cnne
