#include "layers/registry.h"

#include "engine/error.h"
#include "layers/activation.h"
#include "layers/add.h"
#include "layers/batchnorm.h"
#include "layers/concat.h"
#include "layers/conv2d.h"
#include "layers/dropout.h"
#include "layers/flatten.h"
#include "layers/global_avgpool2d.h"
#include "layers/groupnorm.h"
#include "layers/linear.h"
#include "layers/mul.h"
#include "layers/pool2d.h"
#include "layers/prelu.h"
#include "layers/relu.h"

namespace cnne {

const LayerRegistry& LayerRegistry::builtin() {
  static const LayerRegistry registry = [] {
    LayerRegistry r;
    register_builtin_layers(r);
    return r;
  }();
  return registry;
}

void LayerRegistry::add(const std::string& type, LayerFactory factory) {
  if (!factories_.emplace(type, std::move(factory)).second)
    throw Error("layer type '" + type + "' registered twice");
}

std::unique_ptr<Layer> LayerRegistry::create(const std::string& type, const std::string& name,
                                             JsonFields& fields) const {
  auto it = factories_.find(type);
  if (it == factories_.end()) {
    std::string list;
    for (const auto& t : types()) list += (list.empty() ? "" : ", ") + t;
    throw ConfigError(fields.where() + ": unknown layer type '" + type + "' (known types: " + list +
                      ")");
  }
  return it->second(name, fields);
}

std::vector<std::string> LayerRegistry::types() const {
  std::vector<std::string> out;
  for (const auto& [type, factory] : factories_) out.push_back(type);
  return out;
}

void register_builtin_layers(LayerRegistry& registry) {
  registry.add("conv2d", Conv2d::from_json);
  registry.add("maxpool2d", MaxPool2d::from_json);
  registry.add("relu", ReLU::from_json);
  registry.add("flatten", Flatten::from_json);
  registry.add("linear", Linear::from_json);
  for (const BatchNorm::Kind kind : {BatchNorm::Kind::k1d, BatchNorm::Kind::k2d})
    registry.add(kind == BatchNorm::Kind::k1d ? "batchnorm1d" : "batchnorm2d",
                 [kind](const std::string& name, JsonFields& fields) {
                   return BatchNorm::from_json(kind, name, fields);
                 });
  registry.add("groupnorm", GroupNorm::from_json);
  registry.add("instancenorm2d", GroupNorm::from_json_instance);
  registry.add("layernorm", GroupNorm::from_json_layer);
  registry.add("dropout", Dropout::from_json);
  registry.add("dropout2d", Dropout::from_json_2d);
  registry.add("avgpool2d", AvgPool2d::from_json);
  registry.add("global_avgpool2d", GlobalAvgPool2d::from_json);
  registry.add("add", Add::from_json);
  registry.add("concat", Concat::from_json);
  registry.add("mul", Mul::from_json);
  registry.add("prelu", PReLU::from_json);
  for (const Activation kind :
       {Activation::kTanh, Activation::kSigmoid, Activation::kLeakyRelu, Activation::kElu,
        Activation::kSilu, Activation::kGelu, Activation::kRelu6, Activation::kHardsigmoid,
        Activation::kHardswish, Activation::kMish, Activation::kSelu})
    registry.add(activation_type(kind), [kind](const std::string& name, JsonFields& fields) {
      return ActivationLayer::from_json(kind, name, fields);
    });
}

}  // namespace cnne
