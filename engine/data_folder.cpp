#include "engine/data_folder.h"

#include <cstdlib>
#include <filesystem>

#include "engine/error.h"

namespace cnne {
namespace fs = std::filesystem;
namespace {

bool holds_any(const fs::path& dir, const std::vector<std::string>& files) {
  std::error_code ec;
  for (const std::string& file : files)
    if (fs::is_regular_file(dir / file, ec)) return true;
  return false;
}

bool has_markers(const FolderRule& rule, const fs::path& dir) {
  return holds_any(dir, rule.markers);
}

// `dir` itself if it holds the files, else the first `inside` subfolder that does.
std::string resolve(const FolderRule& rule, const fs::path& dir) {
  if (has_markers(rule, dir)) return dir.string();
  for (const std::string& sub : rule.inside)
    if (has_markers(rule, dir / sub)) return (dir / sub).string();
  return "";
}

std::string joined(const std::vector<std::string>& names, const std::string& sep) {
  std::string out;
  for (const std::string& n : names) out += (out.empty() ? "" : sep) + n;
  return out;
}

// "neither a nor b" / "none of a, b, c"
std::string none_of(const std::vector<std::string>& names) {
  if (names.size() == 2) return "neither " + names[0] + " nor " + names[1];
  return "none of " + joined(names, ", ");
}

std::string subfolders(const FolderRule& rule) {
  if (rule.inside.empty()) return "";
  return " (nor a " + joined(rule.inside, "/ or ") + "/ folder with them)";
}

}  // namespace

std::string locate_folder(const FolderRule& rule, const std::string& requested) {
  const std::string how = "; " + rule.how;
  if (!requested.empty()) {
    std::error_code ec;
    if (!fs::is_directory(requested, ec))
      throw DataError("data folder '" + requested + "' does not exist" + how);
    std::string found = resolve(rule, requested);
    if (found.empty())
      throw DataError("data folder '" + requested + "' holds " + none_of(rule.markers) +
                      subfolders(rule) + how);
    return found;
  }
  if (const char* env = std::getenv(kDataEnvVar); env && *env) {
    std::string found = resolve(rule, env);
    if (found.empty())
      throw DataError(std::string(kDataEnvVar) + "='" + env + "' holds no " + rule.what + " files" +
                      subfolders(rule) + how);
    return found;
  }
  for (const std::string& candidate : rule.defaults) {
    std::string found = resolve(rule, candidate);
    if (!found.empty()) return found;
  }
  throw DataError(rule.what + " not found (looked in " + joined(rule.defaults, ", ") + ")" + how);
}

bool holds_python_files(const std::string& dir, const std::vector<std::string>& binary,
                        const std::vector<std::string>& python) {
  return !holds_any(dir, binary) && holds_any(dir, python);
}

}  // namespace cnne
