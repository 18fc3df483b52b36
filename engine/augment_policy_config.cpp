#include "engine/augment_policy_config.h"

#include "engine/error.h"
#include "engine/json_fields.h"

namespace cnne {

namespace {
const char* const kKinds = "trivial_augment_wide, rand_augment or auto_augment";
}

PolicyConfig parse_policy(const nlohmann::json& j, const std::string& where) {
  const std::string at = where + ".policy";
  PolicyConfig p;
  if (j.is_string()) {
    p.kind = policy_kind_from_name(j.get<std::string>());
    if (p.kind == kNoPolicy)
      throw ConfigError(at + ": '" + j.get<std::string>() + "' is not a policy (" + kKinds + ")");
    return p;
  }
  if (!j.is_object())
    throw ConfigError(at + ": must be a policy name (" + std::string(kKinds) +
                      ") or an object with \"type\"");
  JsonFields f(j, at);
  const std::string type = f.get_string("type");
  p.kind = policy_kind_from_name(type);
  if (p.kind == kNoPolicy)
    throw ConfigError(f.error("type", "'" + type + "' is not a policy (" + kKinds + ")"));
  if (p.kind == kAutoAugment) {
    p.auto_policy = f.get_string("policy", p.auto_policy);
    if (p.auto_policy != "cifar10" && p.auto_policy != "imagenet" && p.auto_policy != "svhn")
      throw ConfigError(f.error("policy", "'" + p.auto_policy +
                                              "' is not an AutoAugment policy (cifar10, "
                                              "imagenet or svhn)"));
  } else {
    p.num_magnitude_bins = f.get_int("num_magnitude_bins", p.num_magnitude_bins);
    if (p.num_magnitude_bins < 2 || p.num_magnitude_bins > 1000)
      throw ConfigError(f.error("num_magnitude_bins", "must be in 2..1000"));
  }
  if (p.kind == kRandAugment) {
    p.num_ops = f.get_int("num_ops", p.num_ops);
    p.magnitude = f.get_int("magnitude", p.magnitude);
    if (p.num_ops < 0 || p.num_ops > kPolicyMaxOps)
      throw ConfigError(f.error("num_ops", "must be in 0.." + std::to_string(kPolicyMaxOps)));
    if (p.magnitude < 0 || p.magnitude >= p.num_magnitude_bins)
      throw ConfigError(f.error(
          "magnitude", "must be a bin in 0.." + std::to_string(p.num_magnitude_bins - 1) +
                           " (num_magnitude_bins " + std::to_string(p.num_magnitude_bins) + ")"));
  }
  f.finish();
  return p;
}

nlohmann::json policy_json(const PolicyConfig& p) {
  nlohmann::json j = {{"type", policy_kind_name(p.kind)}};
  if (p.kind == kAutoAugment) {
    j["policy"] = p.auto_policy;
    return j;
  }
  j["num_magnitude_bins"] = p.num_magnitude_bins;
  if (p.kind == kRandAugment) {
    j["num_ops"] = p.num_ops;
    j["magnitude"] = p.magnitude;
  }
  return j;
}

}  // namespace cnne
