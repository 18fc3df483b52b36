#include "layers/global_avgpool2d.h"

#include "engine/error.h"
#include "engine/ops.h"

namespace cnne {

std::unique_ptr<Layer> GlobalAvgPool2d::from_json(const std::string& name, JsonFields&) {
  return std::make_unique<GlobalAvgPool2d>(name);
}

Shape GlobalAvgPool2d::output_shape(const Shape& in) const {
  if (in.rank() != 4)
    throw ConfigError(where() + ": expects an input of shape (N, C, H, W), got " + in.str());
  return Shape{in[0], in[1], 1, 1};
}

void GlobalAvgPool2d::forward(Context& ctx, const Tensor& x, const Tensor& y) {
  ops::global_avgpool_forward(ctx, x, y);
}

void GlobalAvgPool2d::backward(Context& ctx, const Tensor&, const Tensor&, const Tensor& dy,
                               const Tensor* dx) {
  if (dx) ops::global_avgpool_backward(ctx, dy, *dx);
}

nlohmann::json GlobalAvgPool2d::to_json() const {
  return {{"type", type()}, {"name", name()}};
}

}  // namespace cnne
