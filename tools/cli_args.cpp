#include "tools/cli_args.h"

#include <cerrno>
#include <cmath>
#include <cstdlib>

#include "engine/error.h"

namespace cnne::cli {

CliArgs::CliArgs(std::string verb, std::vector<FlagSpec> flags, int max_positionals, int argc,
                 char** argv, int first)
    : verb_(std::move(verb)), flags_(std::move(flags)) {
  const std::string see = "; see 'cnnengine " + verb_ + " --help'";
  for (int i = first; i < argc; ++i) {
    std::string arg = argv[i];
    if (arg == "--help" || arg == "-h") {
      help_ = true;
      continue;
    }
    if (arg.rfind("--", 0) != 0 || arg == "--") {
      if (arg.size() > 1 && arg[0] == '-' && arg != "-")
        throw UsageError("unknown option '" + arg + "' for '" + verb_ + "'" + see);
      positionals_.push_back(arg);
      continue;
    }
    std::string name = arg.substr(2), value;
    bool inline_value = false;
    if (auto eq = name.find('='); eq != std::string::npos) {
      value = name.substr(eq + 1);
      name = name.substr(0, eq);
      inline_value = true;
    }
    const FlagSpec* s = spec(name);
    if (!s) throw UsageError("unknown option '--" + name + "' for '" + verb_ + "'" + see);
    if (s->value_name.empty()) {
      if (inline_value) throw UsageError("--" + name + " takes no value");
    } else if (!inline_value) {
      if (i + 1 >= argc) throw UsageError("--" + name + " needs a value (" + s->value_name + ")");
      value = argv[++i];
    }
    if (has(name)) throw UsageError("--" + name + " given twice");
    values_.emplace_back(name, value);
  }
  if (!help_ && static_cast<int>(positionals_.size()) > max_positionals)
    throw UsageError("unexpected argument '" + positionals_[static_cast<size_t>(max_positionals)] +
                     "' for '" + verb_ + "'" + see);
}

const FlagSpec* CliArgs::spec(const std::string& name) const {
  for (const auto& f : flags_)
    if (f.name == name) return &f;
  return nullptr;
}

bool CliArgs::has(const std::string& name) const {
  for (const auto& [n, v] : values_)
    if (n == name) return true;
  return false;
}

std::optional<std::string> CliArgs::text(const std::string& name) const {
  for (const auto& [n, v] : values_)
    if (n == name) return v;
  return std::nullopt;
}

std::optional<int64_t> CliArgs::integer(const std::string& name, int64_t min, int64_t max) const {
  auto t = text(name);
  if (!t) return std::nullopt;
  errno = 0;
  char* end = nullptr;
  const long long v = std::strtoll(t->c_str(), &end, 10);
  if (t->empty() || *end != '\0' || errno == ERANGE)
    throw UsageError("--" + name + " expects an integer, got '" + *t + "'");
  if (v < min || v > max)
    throw UsageError("--" + name + " must be in " + std::to_string(min) + ".." +
                     std::to_string(max) + ", got " + *t);
  return v;
}

std::optional<double> CliArgs::number(const std::string& name) const {
  auto t = text(name);
  if (!t) return std::nullopt;
  errno = 0;
  char* end = nullptr;
  const double v = std::strtod(t->c_str(), &end);
  if (t->empty() || *end != '\0' || errno == ERANGE || !std::isfinite(v))
    throw UsageError("--" + name + " expects a number, got '" + *t + "'");
  return v;
}

std::string CliArgs::help_text(const std::string& usage, const std::string& description) const {
  std::string out = "Usage: cnnengine " + verb_ + " " + usage + "\n\n" + description + "\n";
  if (!flags_.empty()) out += "\nOptions:\n";
  for (const auto& f : flags_) {
    std::string left = "  --" + f.name + (f.value_name.empty() ? "" : " " + f.value_name);
    if (left.size() < 22)
      left.append(22 - left.size(), ' ');
    else
      left += "  ";
    out += left + f.help + "\n";
  }
  out += std::string("  --help, -h") + std::string(12, ' ') + "this text\n";
  return out;
}

}  // namespace cnne::cli
