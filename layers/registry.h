#pragma once
// The layer registry: config "type" -> factory (DESIGN principle 7). Nothing
// registers itself behind the reader's back: register_builtin_layers() lists
// every built-in type in one place.
#include <functional>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "engine/json_fields.h"
#include "layers/layer.h"

namespace cnne {

// Builds a layer named `name` from the remaining keys of its config entry; must
// read every key it accepts (JsonFields::finish() runs after it).
using LayerFactory = std::function<std::unique_ptr<Layer>(const std::string& name, JsonFields&)>;

class LayerRegistry {
 public:
  // The registry with every built-in layer.
  static const LayerRegistry& builtin();

  void add(const std::string& type, LayerFactory factory);
  // Throws ConfigError naming the unknown type and listing the known ones.
  std::unique_ptr<Layer> create(const std::string& type, const std::string& name,
                                JsonFields& fields) const;
  std::vector<std::string> types() const;

 private:
  std::map<std::string, LayerFactory> factories_;
};

void register_builtin_layers(LayerRegistry& registry);

}  // namespace cnne
