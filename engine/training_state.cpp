#include "engine/training_state.h"

#include <cstdio>
#include <cstdlib>

#include "engine/error.h"

namespace cnne {
namespace {

std::string hex(uint64_t v) {
  char text[19];
  std::snprintf(text, sizeof text, "0x%016llx", static_cast<unsigned long long>(v));
  return text;
}

uint64_t parse_hex(const nlohmann::json& v, const std::string& where) {
  if (!v.is_string()) throw CheckpointError(where + ": epoch_rng must hold hex strings");
  const std::string text = v.get<std::string>();
  char* end = nullptr;
  const unsigned long long value = std::strtoull(text.c_str(), &end, 16);
  if (text.empty() || *end != '\0')
    throw CheckpointError(where + ": epoch_rng value '" + text + "' is not hexadecimal");
  return value;
}

}  // namespace

nlohmann::json TrainingState::to_json() const {
  nlohmann::json rng = nlohmann::json::array();
  for (uint64_t w : epoch_rng) rng.push_back(hex(w));
  return {{"status", status},
          {"epochs_completed", epochs_completed},
          {"batches_done", batches_done},
          {"steps", steps},
          {"seed", seed},
          {"epoch_rng", rng},
          {"running_loss", running_loss},
          {"epoch_correct", epoch_correct},
          {"epoch_images", epoch_images},
          {"last_loss", last_loss},
          {"test_accuracy", test_accuracy},
          {"validation_accuracy", validation_accuracy},
          {"best_accuracy", best_accuracy},
          {"best_epoch", best_epoch},
          {"loss_scale", loss_scale},
          {"loss_scale_good_steps", loss_scale_good_steps},
          {"skipped_steps", skipped_steps},
          {"plateau", plateau.to_json()},
          {"device", device},
          {"optimizer_file", optimizer_file}};
}

TrainingState TrainingState::from_json(const nlohmann::json& j, const std::string& where) {
  TrainingState s;
  try {
    s.status = j.value("status", std::string("complete"));
    s.epochs_completed = j.value("epochs_completed", int64_t{0});
    s.batches_done = j.value("batches_done", int64_t{0});
    s.steps = j.value("steps", int64_t{0});
    s.seed = j.value("seed", uint64_t{0});
    s.running_loss = j.value("running_loss", 0.0);
    s.epoch_correct = j.value("epoch_correct", int64_t{0});
    s.epoch_images = j.value("epoch_images", int64_t{0});
    s.last_loss = j.value("last_loss", -1.0);
    s.test_accuracy = j.value("test_accuracy", -1.0);
    s.validation_accuracy = j.value("validation_accuracy", -1.0);
    s.best_accuracy = j.value("best_accuracy", -1.0);
    s.best_epoch = j.value("best_epoch", int64_t{0});
    s.loss_scale = j.value("loss_scale", 0.0);
    s.loss_scale_good_steps = j.value("loss_scale_good_steps", int64_t{0});
    s.skipped_steps = j.value("skipped_steps", int64_t{0});
    s.device = j.value("device", std::string());
    s.optimizer_file = j.value("optimizer_file", std::string());
  } catch (const nlohmann::json::exception& e) {
    throw CheckpointError(where + ": training_state has a field of the wrong type (" +
                          std::string(e.what()) + ")");
  }
  if (j.contains("plateau")) s.plateau = PlateauState::from_json(j["plateau"], where);
  if (j.contains("epoch_rng")) {
    const auto& rng = j["epoch_rng"];
    if (!rng.is_array() || rng.size() != 4)
      throw CheckpointError(where + ": training_state.epoch_rng must hold 4 hex strings");
    for (size_t i = 0; i < 4; ++i) s.epoch_rng[i] = parse_hex(rng[i], where);
  }
  if (s.epochs_completed < 0 || s.batches_done < 0 || s.steps < 0 || s.epoch_images < 0 ||
      s.loss_scale < 0 || s.loss_scale_good_steps < 0 || s.skipped_steps < 0)
    throw CheckpointError(where + ": training_state has negative counters");
  return s;
}

}  // namespace cnne
