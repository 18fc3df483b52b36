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

std::vector<ParamSpec> Layer::half_weight_specs(const Shape& weight, bool with_grad) const {
  if (!is_half(compute_dtype_)) return {};
  std::vector<ParamSpec> specs{{"weight_16bit", weight, compute_dtype_}};
  if (with_grad) specs.push_back({"weight_grad_16bit", weight, compute_dtype_});
  return specs;
}

Tensor Layer::compute_weight(Context& ctx, size_t first, bool refresh) const {
  if (!is_half(compute_dtype_)) return params_[0];
  if (scratch_.size() < first + 1) throw Error(where() + ": 16-bit weight scratch not bound");
  if (refresh) ops::convert(ctx, params_[0], scratch_[first]);
  return scratch_[first];
}

Tensor Layer::weight_grad_target(size_t first) const {
  if (!is_half(compute_dtype_)) return grads_[0];
  if (scratch_.size() < first + 2) throw Error(where() + ": 16-bit weight scratch not bound");
  return scratch_[first + 1];
}

void Layer::finish_weight_grad(Context& ctx, size_t first) const {
  if (is_half(compute_dtype_)) ops::convert(ctx, scratch_[first + 1], grads_[0]);
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
