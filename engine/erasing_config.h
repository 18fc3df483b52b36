#pragma once
// data.augment.random_erasing in the config: torchvision's RandomErasing
// (engine/augment.h's ErasingConfig; Note [random erasing] in
// engine/batch_assembly.h).
#include <cstdint>
#include <string>

#include <nlohmann/json.hpp>

#include "engine/augment.h"
#include "engine/ops.h"

namespace cnne {

// `j` is p alone (0.5) or {"p", "scale", "ratio", "value"}; `where` names
// data.augment, `channels` the images'. ConfigError naming the key otherwise.
ErasingConfig parse_erasing(const nlohmann::json& j, const std::string& where, int64_t channels);
nlohmann::json erasing_json(const ErasingConfig& e);
// The assembly's erasing arguments for images of `channels` channels (at most
// 4 take a value of their own): p, the scale and the ratio's logarithms.
void set_erasing(BatchAugment& aug, const ErasingConfig& e, int64_t channels);

}  // namespace cnne
