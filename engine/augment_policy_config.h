#pragma once
// data.augment.policy in the config (docs/CONFIG.md): a kind name, or an
// object with "type" and the kind's keys.
#include <string>

#include <nlohmann/json.hpp>

#include "engine/augment_policy_table.h"

namespace cnne {

// Throws ConfigError naming `where`.policy and the key.
PolicyConfig parse_policy(const nlohmann::json& j, const std::string& where);
nlohmann::json policy_json(const PolicyConfig& policy);

}  // namespace cnne
