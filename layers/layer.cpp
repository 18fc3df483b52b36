#include "layers/layer.h"

#include "engine/error.h"

namespace cnne {

Tensor Layer::as_maps(const Tensor& t) {
  return t.shape.rank() == 2 ? t.reshaped(Shape{t.shape[0], t.shape[1], 1, 1}) : t;
}

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

namespace {

// A weight copy in the channels-last layout: (K, C, R, S) stored (K, R, S, C).
bool weight_channels_last(bool channels_last, const Tensor& w) {
  return channels_last && w.shape.rank() == 4;
}

}  // namespace

std::vector<ParamSpec> Layer::working_weight_specs(const Shape& weight, bool with_grad) const {
  if (!is_half(compute_dtype_) && !(channels_last_ && weight.rank() == 4)) return {};
  std::vector<ParamSpec> specs{{"weight_working", weight, compute_dtype_}};
  if (with_grad) specs.push_back({"weight_grad_working", weight, compute_dtype_});
  return specs;
}

Tensor Layer::compute_weight(Context& ctx, size_t first, bool refresh) const {
  if (!is_half(compute_dtype_) && !weight_channels_last(channels_last_, params_[0]))
    return params_[0];
  if (scratch_.size() < first + 1) throw Error(where() + ": weight working copy not bound");
  const Tensor copy = scratch_[first].with_channels_last(channels_last_);
  if (refresh) ops::convert(ctx, params_[0], copy);  // rounds and/or transposes
  return copy;
}

Tensor Layer::weight_grad_target(size_t first) const {
  if (!is_half(compute_dtype_) && !weight_channels_last(channels_last_, params_[0]))
    return grads_[0];
  if (scratch_.size() < first + 2) throw Error(where() + ": weight gradient scratch not bound");
  return scratch_[first + 1].with_channels_last(channels_last_);
}

void Layer::finish_weight_grad(Context& ctx, size_t first) const {
  if (is_half(compute_dtype_) || weight_channels_last(channels_last_, params_[0]))
    ops::convert(ctx, weight_grad_target(first), grads_[0]);
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
