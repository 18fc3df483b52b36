#pragma once
// JsonFields: checked reading of one JSON object of a config. Every read names
// the key and its place (`where`, e.g. "configs/x.json: layer 'conv1'") in the
// error; finish() rejects keys nobody read and lists the known ones
// (DESIGN principle 7).
#include <array>
#include <cstdint>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

namespace cnne {

class JsonFields {
 public:
  // Throws ConfigError unless `object` is a JSON object.
  JsonFields(const nlohmann::json& object, std::string where);

  bool has(const std::string& key) const;
  int64_t get_int(const std::string& key);
  int64_t get_int(const std::string& key, int64_t fallback);
  double get_number(const std::string& key);
  double get_number(const std::string& key, double fallback);
  // An integer or a [h, w] pair of integers (PyTorch's int-or-tuple arguments).
  std::array<int64_t, 2> get_int_pair(const std::string& key, std::array<int64_t, 2> fallback);
  bool get_bool(const std::string& key, bool fallback);
  std::string get_string(const std::string& key);
  std::string get_string(const std::string& key, const std::string& fallback);
  std::vector<double> get_numbers(const std::string& key, const std::vector<double>& fallback);
  std::vector<std::string> get_strings(const std::string& key,
                                       const std::vector<std::string>& fallback);
  // The raw value (marks the key as known); throws if absent.
  const nlohmann::json& get_raw(const std::string& key);
  // Marks a key as known without reading it.
  void allow(const std::string& key);

  // Throws ConfigError naming the first unknown key and listing the known ones.
  void finish() const;

  const std::string& where() const { return where_; }
  // A ConfigError message about `key` at this place.
  std::string error(const std::string& key, const std::string& message) const;

 private:
  const nlohmann::json& require(const std::string& key);
  const nlohmann::json* find(const std::string& key);

  const nlohmann::json& object_;
  std::string where_;
  std::vector<std::string> known_;
};

// Short human text for a JSON value's type and content, for error messages.
std::string describe_json(const nlohmann::json& value);

}  // namespace cnne
