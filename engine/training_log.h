#pragma once
// TrainingLog: a machine-readable record of a training run, one JSON object
// per line (JSON Lines), for plots and scripts: `cnnengine train --metrics
// FILE`. Every record has "event" and "wall_s" (seconds since the log was
// opened); the events and their keys are listed in docs/CONFIG.md ("Metrics
// log"). The file is opened for appending, so a resumed run continues the
// log of the run it resumes. Each record is one write followed by a flush:
// a run killed at any moment leaves whole lines before its last.
#include <chrono>
#include <cstdio>
#include <string>

#include <nlohmann/json.hpp>

namespace cnne {

class TrainingLog {
 public:
  // Throws UsageError naming `path` when it cannot be opened for appending.
  explicit TrainingLog(const std::string& path);
  ~TrainingLog();
  TrainingLog(const TrainingLog&) = delete;
  TrainingLog& operator=(const TrainingLog&) = delete;

  // Appends `record` with "event" and "wall_s" added in front. A failed write
  // (a full disk) must not end hours of training: it prints one warning on
  // stderr and the log writes nothing more; written() then says false.
  void write(const std::string& event, const nlohmann::ordered_json& record = {});
  bool written() const { return ok_; }
  const std::string& path() const { return path_; }

 private:
  std::string path_;
  std::FILE* file_ = nullptr;
  bool ok_ = true;
  std::chrono::steady_clock::time_point opened_;
};

}  // namespace cnne
