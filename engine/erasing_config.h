#pragma once
// data.augment.random_erasing in the config: torchvision's RandomErasing
// (engine/augment.h's ErasingConfig; Note [random erasing] in
// engine/batch_assembly.h).
#include <cstdint>
#include <string>

#include <nlohmann/json.hpp>

#include "engine/augment.h"

namespace cnne {

// `j` is p alone (0.5) or {"p", "scale", "ratio", "value"}; `where` names
// data.augment, `channels` the images'. ConfigError naming the key otherwise.
ErasingConfig parse_erasing(const nlohmann::json& j, const std::string& where, int64_t channels);
nlohmann::json erasing_json(const ErasingConfig& e);

}  // namespace cnne
