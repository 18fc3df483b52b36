#include "layers/flatten.h"

#include "engine/buffer.h"
#include "engine/error.h"

namespace cnne {

std::unique_ptr<Layer> Flatten::from_json(const std::string& name, JsonFields&) {
  return std::make_unique<Flatten>(name);
}

Shape Flatten::output_shape(const Shape& in) const {
  if (in.rank() < 2) throw ConfigError(where() + ": expects an input with a batch dimension");
  return Shape{in[0], in.without_batch().numel()};
}

// The Network aliases y to x (output_aliases_input); a copy is made only when
// a caller hands separate buffers (or the input has other readers, so its
// gradient is separate). The copy is an op on the context's stream, never a
// blocking memcpy: it may be inside a captured CUDA graph.
void Flatten::forward(Context& ctx, const Tensor& x, const Tensor& y) {
  if (y.data != x.data) ops::axpby(ctx, 1.0f, x.reshaped(y.shape), 0.0f, y);
}

void Flatten::backward(Context& ctx, const Tensor&, const Tensor&, const Tensor& dy,
                       const Tensor* dx) {
  if (dx && dx->data != dy.data) ops::axpby(ctx, 1.0f, dy.reshaped(dx->shape), 0.0f, *dx);
}

nlohmann::json Flatten::to_json() const {
  return {{"type", type()}, {"name", name()}};
}

}  // namespace cnne
