#include "engine/checkpoint_saver.h"

#include <algorithm>
#include <cstdio>
#include <filesystem>
#include <regex>

#include "engine/error.h"

namespace cnne {
namespace fs = std::filesystem;
namespace {

// "runs/cnn_model.safetensors" -> "runs/cnn_model"; any other name is its own
// stem ("runs/cnn_model.pth" -> "runs/cnn_model.pth"), so a .pth run and a
// .safetensors run of the same name in one folder never share, or remove,
// each other's optimizer files.
std::string stem_of(const std::string& path) {
  const std::string suffix = ".safetensors";
  if (path.size() > suffix.size() &&
      path.compare(path.size() - suffix.size(), suffix.size(), suffix) == 0)
    return path.substr(0, path.size() - suffix.size());
  return path;
}

std::string escape_regex(const std::string& text) {
  static const std::regex special(R"([.^$|()\[\]{}*+?\\])");
  return std::regex_replace(text, special, R"(\$&)");
}

// Files in the folder of `stem` named <stem basename><middle>, with <middle> matching `pattern`
// whose first group is a step number; sorted by step. Each path is spelled as
// stem + middle (a stem without a folder gives bare names), so callers can
// compare them with the paths they build from the stem.
std::vector<std::pair<int64_t, std::string>> files_with_step(const std::string& stem,
                                                             const std::string& pattern) {
  const fs::path base(stem);
  const fs::path folder = base.has_parent_path() ? base.parent_path() : fs::path(".");
  const std::regex re(escape_regex(base.filename().string()) + pattern);
  std::vector<std::pair<int64_t, std::string>> found;
  std::error_code ec;
  for (const auto& entry : fs::directory_iterator(folder, ec)) {
    std::smatch m;
    const std::string name = entry.path().filename().string();
    if (std::regex_match(name, m, re))
      found.emplace_back(std::stoll(m[1].str()),
                         base.has_parent_path() ? (folder / name).string() : name);
  }
  std::sort(found.begin(), found.end());
  return found;
}

void remove_quietly(const std::string& path) {
  std::error_code ec;
  fs::remove(path, ec);
}

}  // namespace

std::string optimizer_state_path(const std::string& path, int64_t step) {
  char suffix[64];
  std::snprintf(suffix, sizeof suffix, ".optimizer.step-%lld.safetensors",
                static_cast<long long>(step));
  return stem_of(path) + suffix;
}

std::string best_checkpoint_path(const std::string& path) {
  return stem_of(path) + ".best.safetensors";
}

std::vector<std::string> periodic_checkpoints(const std::string& path) {
  std::vector<std::string> out;
  for (const auto& [step, file] : files_with_step(stem_of(path), R"(\.step-([0-9]+)\.safetensors)"))
    out.push_back(file);
  return out;
}

CheckpointSaver::CheckpointSaver(const Config& config, const Network& net,
                                 const Optimizer& optimizer)
    : config_(config), net_(net), optimizer_(optimizer) {}

void CheckpointSaver::save(const std::string& path, TrainingState state) const {
  const std::string optimizer_path = optimizer_state_path(path, state.steps);
  Safetensors opt = optimizer_.export_state(net_);
  if (average_) average_->export_training_weights(net_, opt);
  opt.metadata["checkpoint"] = fs::path(path).filename().string();
  save_safetensors(optimizer_path, opt);
  state.optimizer_file = fs::path(optimizer_path).filename().string();
  with_average(average_, net_, [&] { save_checkpoint(path, config_, net_, state); });
  for (const auto& [step, file] :
       files_with_step(stem_of(path), R"(\.optimizer\.step-([0-9]+)\.safetensors)"))
    if (file != optimizer_path) remove_quietly(file);
}

std::string CheckpointSaver::save_periodic(const TrainingState& state) const {
  char suffix[48];
  std::snprintf(suffix, sizeof suffix, ".step-%lld.safetensors",
                static_cast<long long>(state.steps));
  const std::string path = stem_of(config_.training.checkpoint) + suffix;
  TrainingState periodic = state;
  periodic.status = "periodic";
  save(path, periodic);
  std::vector<std::string> all = periodic_checkpoints(config_.training.checkpoint);
  const auto keep = static_cast<size_t>(config_.training.keep_checkpoints);
  for (size_t i = 0; i + keep < all.size(); ++i) {
    remove_quietly(all[i]);
    for (const auto& [step, file] :
         files_with_step(stem_of(all[i]), R"(\.optimizer\.step-([0-9]+)\.safetensors)"))
      remove_quietly(file);
  }
  return path;
}

ResumePoint read_resume_point(const std::string& path) {
  ResumePoint r;
  r.checkpoint = read_checkpoint(path);
  if (!r.checkpoint.config)
    throw CheckpointError(path + ": carries no config; only cnnengine training checkpoints resume");
  const TrainingState& s = r.checkpoint.state;
  if (s.optimizer_file.empty())
    throw CheckpointError(path +
                          ": has no optimizer state (training_state.optimizer_file); "
                          "it cannot be resumed exactly");
  const fs::path p(path);
  r.optimizer_path =
      ((p.has_parent_path() ? p.parent_path() : fs::path(".")) / s.optimizer_file).string();
  r.optimizer = load_safetensors(r.optimizer_path);
  const auto steps = r.optimizer.metadata.find("steps");
  if (steps == r.optimizer.metadata.end() || steps->second != std::to_string(s.steps))
    throw CheckpointError(r.optimizer_path + ": optimizer state is from step " +
                          (steps == r.optimizer.metadata.end() ? "?" : steps->second) +
                          ", the checkpoint from step " + std::to_string(s.steps));
  return r;
}

}  // namespace cnne
