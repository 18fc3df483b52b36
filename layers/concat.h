#pragma once
// Concat: y = torch.cat(inputs, dim=1), the channels (or features) of 2 to 4
// inputs side by side, in the order the config's "inputs" names them: the
// join of DenseNet's and Inception's branches. The inputs agree in every
// other dimension. Its backward hands each input its slice of dy.
#include "engine/json_fields.h"
#include "layers/layer.h"

namespace cnne {

class Concat : public Layer {
 public:
  Concat(std::string name, size_t inputs);
  static std::unique_ptr<Layer> from_json(const std::string& name, JsonFields& fields);

  std::string type() const override { return "concat"; }
  bool supports_channels_last() const override { return true; }
  size_t input_count() const override { return inputs_; }
  Shape output_shape_of(std::span<const Shape> in) const override;
  void forward_of(Context& ctx, std::span<const Tensor> xs, const Tensor& y) override;
  void backward_of(Context& ctx, std::span<const Tensor> xs, const Tensor& y, const Tensor& dy,
                   std::span<const Tensor* const> dxs) override;
  nlohmann::json to_json() const override;
  std::string repr() const override { return "Concat(dim=1)"; }
  int64_t forward_flops(const Shape&) const override { return 0; }  // copies only

 private:
  size_t inputs_;
};

}  // namespace cnne
