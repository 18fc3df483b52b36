#pragma once
// CliArgs: strict parsing of one verb's command line. Flags are "--name VALUE"
// or "--name=VALUE" (or bare "--name" for switches). Unknown flags, missing
// values and malformed numbers are UsageErrors that name the flag.
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

namespace cnne::cli {

struct FlagSpec {
  std::string name;        // "epochs" for --epochs
  std::string value_name;  // "N"; empty for a switch
  std::string help;
};

class CliArgs {
 public:
  // Parses argv[first..argc) for verb `verb` accepting `flags` and at most
  // `max_positionals` positional arguments. "--help"/"-h" is always accepted.
  CliArgs(std::string verb, std::vector<FlagSpec> flags, int max_positionals, int argc, char** argv,
          int first);

  bool help_requested() const { return help_; }
  bool has(const std::string& name) const;
  std::optional<std::string> text(const std::string& name) const;
  // Integer flag in [min, max]; UsageError naming the flag otherwise.
  std::optional<int64_t> integer(const std::string& name, int64_t min, int64_t max) const;
  std::optional<double> number(const std::string& name) const;
  const std::vector<std::string>& positionals() const { return positionals_; }

  // The verb's help: usage line, description, then one line per flag.
  std::string help_text(const std::string& usage, const std::string& description) const;

 private:
  const FlagSpec* spec(const std::string& name) const;

  std::string verb_;
  std::vector<FlagSpec> flags_;
  std::vector<std::pair<std::string, std::string>> values_;
  std::vector<std::string> positionals_;
  bool help_ = false;
};

}  // namespace cnne::cli
