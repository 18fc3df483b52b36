#include "engine/training_log.h"

#include <cerrno>
#include <cmath>
#include <cstring>
#include <iostream>

#include "engine/error.h"

namespace cnne {

TrainingLog::TrainingLog(const std::string& path)
    : path_(path), opened_(std::chrono::steady_clock::now()) {
  file_ = std::fopen(path.c_str(), "a");
  if (!file_)
    throw UsageError("--metrics '" + path +
                     "': cannot open for appending: " + std::strerror(errno));
}

TrainingLog::~TrainingLog() {
  if (file_) std::fclose(file_);
}

void TrainingLog::write(const std::string& event, const nlohmann::ordered_json& record) {
  if (!ok_) return;
  nlohmann::ordered_json line;
  line["event"] = event;
  line["wall_s"] =
      std::round(std::chrono::duration<double>(std::chrono::steady_clock::now() - opened_).count() *
                 1000.0) /
      1000.0;
  for (const auto& [key, value] : record.items()) line[key] = value;
  // NaN and Inf are not JSON: dump() writes them as null. Strings that are not
  // UTF-8 (a path's bytes) are replaced, not thrown on.
  std::string text = line.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace) + "\n";
  if (std::fwrite(text.data(), 1, text.size(), file_) != text.size() || std::fflush(file_) != 0) {
    ok_ = false;
    std::cerr << "cnnengine: warning: metrics log '" << path_ << "': write failed ("
              << std::strerror(errno) << "); training goes on, the log stops here\n";
  }
}

}  // namespace cnne
