#include "layers/relu.h"

#include "engine/ops.h"

namespace cnne {

std::unique_ptr<Layer> ReLU::from_json(const std::string& name, JsonFields&) {
  return std::make_unique<ReLU>(name);
}

void ReLU::forward(Context& ctx, const Tensor& x, const Tensor& y) {
  ops::relu_forward(ctx, x, y);
}

void ReLU::backward(Context& ctx, const Tensor&, const Tensor& y, const Tensor& dy,
                    const Tensor* dx) {
  if (dx) ops::relu_backward(ctx, y, dy, *dx);
}

nlohmann::json ReLU::to_json() const {
  return {{"type", type()}, {"name", name()}};
}

}  // namespace cnne
