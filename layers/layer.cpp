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

}  // namespace cnne
