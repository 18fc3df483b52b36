#pragma once
// The one-line ConfigError a network config gives once edited: the layer
// tests' check that a bad entry names the layer and the key.
#include <functional>
#include <string>

#include <nlohmann/json.hpp>

#include "engine/error.h"
#include "engine/network.h"

namespace cnne::test {

// Network::from_json's ConfigError message for `network` after `edit`
// (`where` names the file), or "no error".
inline std::string network_error_of(nlohmann::json network,
                                    const std::function<void(nlohmann::json&)>& edit,
                                    const std::string& where) {
  edit(network);
  try {
    Network::from_json(network, where);
  } catch (const ConfigError& e) {
    return e.what();
  }
  return "no error";
}

}  // namespace cnne::test
