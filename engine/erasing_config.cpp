#include "engine/erasing_config.h"

#include <cmath>
#include <cstdio>
#include <tuple>

#include "engine/error.h"
#include "engine/json_fields.h"

namespace cnne {
namespace {

std::string number_text(double v) {
  char text[32];
  std::snprintf(text, sizeof text, "%g", v);
  return text;
}

// A [lo, hi] pair with 0 < lo <= hi (<= upper when given).
std::pair<double, double> ordered_pair(JsonFields& f, const std::string& key,
                                       std::pair<double, double> fallback, double upper) {
  if (!f.has(key)) return fallback;
  const std::vector<double> v = f.get_numbers(key, {});
  const std::string range = upper > 0 ? "0 < lo <= hi <= " + number_text(upper) : "0 < lo <= hi";
  if (v.size() != 2 || !(v[0] > 0) || !(v[0] <= v[1]) || !std::isfinite(v[1]) ||
      (upper > 0 && v[1] > upper))
    throw ConfigError(f.error(key, "must be [lo, hi] with " + range));
  return {v[0], v[1]};
}

}  // namespace

std::string ErasingConfig::describe() const {
  std::string values;
  for (double v : value) values += (values.empty() ? "" : ", ") + number_text(v);
  if (value.size() > 1) values = "(" + values + ")";
  return "RandomErasing(p=" + number_text(p) + ", scale=(" + number_text(scale_lo) + ", " +
         number_text(scale_hi) + "), ratio=(" + number_text(ratio_lo) + ", " +
         number_text(ratio_hi) + "), value=" + values + ")";
}

ErasingConfig parse_erasing(const nlohmann::json& j, const std::string& where, int64_t channels) {
  const std::string at = where + ".random_erasing";
  ErasingConfig e;
  if (j.is_number()) {
    e.p = j.get<double>();
  } else if (j.is_object()) {
    JsonFields f(j, at);
    e.p = f.get_number("p", 0.5);
    std::tie(e.scale_lo, e.scale_hi) = ordered_pair(f, "scale", {e.scale_lo, e.scale_hi}, 1.0);
    std::tie(e.ratio_lo, e.ratio_hi) = ordered_pair(f, "ratio", {e.ratio_lo, e.ratio_hi}, 0);
    if (!(e.ratio_lo >= 1e-3 && e.ratio_hi <= 1e3))
      throw ConfigError(f.error("ratio", "must lie in [0.001, 1000]"));
    if (f.has("value")) {
      const nlohmann::json& v = f.get_raw("value");
      if (v.is_string())
        throw ConfigError(f.error("value", "'" + v.get<std::string>() +
                                               "' is not supported: a number, or one per channel "
                                               "(torchvision's \"random\" noise is not offered)"));
      e.value = v.is_number() ? std::vector<double>{v.get<double>()} : f.get_numbers("value", {});
      if (e.value.size() != 1 && e.value.size() != static_cast<size_t>(channels))
        throw ConfigError(f.error(
            "value", "must be a number or one per channel (" + std::to_string(channels) + ")"));
      for (double x : e.value)
        if (!std::isfinite(x)) throw ConfigError(f.error("value", "must be finite"));
    }
    f.finish();
    if (!(e.p > 0 && e.p <= 1)) throw ConfigError(f.error("p", "must be in (0, 1]"));
    return e;
  } else {
    throw ConfigError(at +
                      ": must be a probability p or an object {\"p\", \"scale\", \"ratio\", "
                      "\"value\"}");
  }
  if (!(e.p >= 0 && e.p <= 1)) throw ConfigError(at + ": must be in [0, 1] (0 = off)");
  return e;
}

void set_erasing(BatchAugment& aug, const ErasingConfig& e, int64_t channels) {
  aug.erase_p = static_cast<float>(e.p);
  aug.erase_scale_lo = e.scale_lo;
  aug.erase_scale_hi = e.scale_hi;
  aug.erase_log_ratio_lo = std::log(e.ratio_lo);
  aug.erase_log_ratio_hi = std::log(e.ratio_hi);
  for (int64_t ch = 0; ch < channels && ch < 4; ++ch)
    aug.erase_value[ch] = static_cast<float>(e.value_of(ch));
}

nlohmann::json erasing_json(const ErasingConfig& e) {
  return {{"p", e.p},
          {"scale", {e.scale_lo, e.scale_hi}},
          {"ratio", {e.ratio_lo, e.ratio_hi}},
          {"value", e.value.size() == 1 ? nlohmann::json(e.value[0]) : nlohmann::json(e.value)}};
}

}  // namespace cnne
