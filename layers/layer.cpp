#include "layers/layer.h"

#include "engine/error.h"

namespace cnne {

void Layer::bind(std::vector<Tensor> params, std::vector<Tensor> grads) {
  const size_t expected = parameter_specs().size();
  if (params.size() != expected || grads.size() != expected)
    throw Error(where() + ": bound " + std::to_string(params.size()) + " parameters, expected " +
                std::to_string(expected));
  params_ = std::move(params);
  grads_ = std::move(grads);
}

void Layer::bind_state(std::vector<Tensor> buffers, std::vector<Tensor> scratch) {
  buffers_ = std::move(buffers);
  scratch_ = std::move(scratch);
}

Shape Layer::output_shape(const Shape&) const {
  throw ConfigError(where() + ": takes " + std::to_string(input_count()) + " inputs");
}

void Layer::forward(Context&, const Tensor&, const Tensor&) {
  throw Error(where() + ": forward of a single input on a layer of " +
              std::to_string(input_count()) + " inputs");
}

void Layer::backward(Context&, const Tensor&, const Tensor&, const Tensor&, const Tensor*) {
  throw Error(where() + ": backward of a single input on a layer of " +
              std::to_string(input_count()) + " inputs");
}

}  // namespace cnne
