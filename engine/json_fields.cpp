#include "engine/json_fields.h"

#include <algorithm>
#include <cmath>

#include "engine/error.h"

namespace cnne {

std::string describe_json(const nlohmann::json& value) {
  std::string text = value.dump();
  if (text.size() > 40) text = text.substr(0, 37) + "...";
  return std::string(value.type_name()) + " " + text;
}

JsonFields::JsonFields(const nlohmann::json& object, std::string where)
    : object_(object), where_(std::move(where)) {
  if (!object_.is_object())
    throw ConfigError(where_ + ": expected a JSON object, got " + describe_json(object_));
}

std::string JsonFields::error(const std::string& key, const std::string& message) const {
  return where_ + ": key '" + key + "' " + message;
}

bool JsonFields::has(const std::string& key) const {
  return object_.contains(key);
}

const nlohmann::json* JsonFields::find(const std::string& key) {
  allow(key);
  auto it = object_.find(key);
  return it == object_.end() ? nullptr : &*it;
}

const nlohmann::json& JsonFields::require(const std::string& key) {
  const nlohmann::json* v = find(key);
  if (!v) throw ConfigError(where_ + ": missing required key '" + key + "'");
  return *v;
}

void JsonFields::allow(const std::string& key) {
  if (std::find(known_.begin(), known_.end(), key) == known_.end()) known_.push_back(key);
}

const nlohmann::json& JsonFields::get_raw(const std::string& key) {
  return require(key);
}

namespace {

int64_t as_int(const JsonFields& f, const std::string& key, const nlohmann::json& v) {
  if (v.is_number_integer()) return v.get<int64_t>();
  if (v.is_number_float()) {
    double d = v.get<double>();
    if (std::isfinite(d) && d == std::floor(d) && std::fabs(d) < 9e15)
      return static_cast<int64_t>(d);
  }
  throw ConfigError(f.error(key, "must be an integer, got " + describe_json(v)));
}

double as_number(const JsonFields& f, const std::string& key, const nlohmann::json& v) {
  if (!v.is_number()) throw ConfigError(f.error(key, "must be a number, got " + describe_json(v)));
  return v.get<double>();
}

}  // namespace

int64_t JsonFields::get_int(const std::string& key) {
  return as_int(*this, key, require(key));
}

int64_t JsonFields::get_int(const std::string& key, int64_t fallback) {
  const nlohmann::json* v = find(key);
  return v ? as_int(*this, key, *v) : fallback;
}

double JsonFields::get_number(const std::string& key) {
  return as_number(*this, key, require(key));
}

double JsonFields::get_number(const std::string& key, double fallback) {
  const nlohmann::json* v = find(key);
  return v ? as_number(*this, key, *v) : fallback;
}

std::array<int64_t, 2> JsonFields::get_int_pair(const std::string& key,
                                                std::array<int64_t, 2> fallback) {
  const nlohmann::json* v = find(key);
  if (!v) return fallback;
  if (v->is_array()) {
    if (v->size() != 2)
      throw ConfigError(
          error(key, "must be an integer or a pair [h, w], got " + describe_json(*v)));
    return {as_int(*this, key, (*v)[0]), as_int(*this, key, (*v)[1])};
  }
  const int64_t both = as_int(*this, key, *v);
  return {both, both};
}

bool JsonFields::get_bool(const std::string& key, bool fallback) {
  const nlohmann::json* v = find(key);
  if (!v) return fallback;
  if (!v->is_boolean())
    throw ConfigError(error(key, "must be true or false, got " + describe_json(*v)));
  return v->get<bool>();
}

std::string JsonFields::get_string(const std::string& key) {
  const nlohmann::json& v = require(key);
  if (!v.is_string()) throw ConfigError(error(key, "must be a string, got " + describe_json(v)));
  return v.get<std::string>();
}

std::string JsonFields::get_string(const std::string& key, const std::string& fallback) {
  if (!has(key)) {
    allow(key);
    return fallback;
  }
  return get_string(key);
}

std::vector<double> JsonFields::get_numbers(const std::string& key,
                                            const std::vector<double>& fallback) {
  const nlohmann::json* v = find(key);
  if (!v) return fallback;
  if (!v->is_array())
    throw ConfigError(error(key, "must be an array of numbers, got " + describe_json(*v)));
  std::vector<double> out;
  for (const auto& e : *v) out.push_back(as_number(*this, key, e));
  return out;
}

std::vector<std::string> JsonFields::get_strings(const std::string& key,
                                                 const std::vector<std::string>& fallback) {
  const nlohmann::json* v = find(key);
  if (!v) return fallback;
  if (!v->is_array())
    throw ConfigError(error(key, "must be an array of strings, got " + describe_json(*v)));
  std::vector<std::string> out;
  for (const auto& e : *v) {
    if (!e.is_string())
      throw ConfigError(error(key, "must hold only strings, got " + describe_json(e)));
    out.push_back(e.get<std::string>());
  }
  return out;
}

void JsonFields::finish() const {
  for (const auto& [key, value] : object_.items()) {
    if (std::find(known_.begin(), known_.end(), key) != known_.end()) continue;
    std::string list;
    for (const auto& k : known_) list += (list.empty() ? "" : ", ") + k;
    throw ConfigError(where_ + ": unknown key '" + key + "' (known keys: " + list + ")");
  }
}

}  // namespace cnne
