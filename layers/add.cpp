#include "layers/add.h"

#include "engine/error.h"
#include "engine/ops.h"

namespace cnne {

std::unique_ptr<Layer> Add::from_json(const std::string& name, JsonFields&) {
  return std::make_unique<Add>(name);
}

Shape Add::output_shape_of(std::span<const Shape> in) const {
  if (in.size() != 2 || !(in[0] == in[1]))
    throw ConfigError(where() + ": adds two inputs of the same shape, got " + in[0].str() +
                      (in.size() > 1 ? " and " + in[1].str() : std::string()));
  return in[0];
}

void Add::forward_of(Context& ctx, std::span<const Tensor> xs, const Tensor& y) {
  ops::add(ctx, xs[0], xs[1], activation_, y);  // one pass, the ReLU after it fused
}

void Add::backward_of(Context& ctx, std::span<const Tensor>, const Tensor&, const Tensor& dy,
                      std::span<const Tensor* const> dxs) {
  if (dxs.size() == 2 && dxs[0] && dxs[1]) {
    ops::copy_to_two(ctx, dy, *dxs[0], *dxs[1]);  // dy read once
    return;
  }
  for (const Tensor* dx : dxs)
    if (dx) ops::axpby(ctx, 1.0f, dy, 0.0f, *dx);
}

nlohmann::json Add::to_json() const {
  return {{"type", type()}, {"name", name()}};
}

}  // namespace cnne
