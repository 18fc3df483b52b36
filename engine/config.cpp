#include "engine/config.h"

#include <cmath>
#include <cstdio>
#include <fstream>
#include <sstream>

#include "engine/augment_policy_config.h"
#include "engine/datasets.h"
#include "engine/erasing_config.h"
#include "engine/error.h"
#include "engine/json_fields.h"

namespace cnne {
namespace {

DataConfig parse_data(const nlohmann::json& j, const std::string& where) {
  DataConfig d;
  JsonFields f(j, where + ": data");
  d.dataset = f.get_string("dataset", d.dataset);
  const datasets::DatasetInfo* set = datasets::find(d.dataset);
  if (!set)
    throw ConfigError(
        f.error("dataset", "is '" + d.dataset + "', expected one of " + datasets::known_names()));
  const auto channels = static_cast<size_t>(set->channels);
  const std::string per_channel =
      channels == 1 ? "must hold 1 number (the gray channel)" : "must hold 3 numbers (R, G, B)";
  d.mean.assign(channels, 0.5);
  d.std.assign(channels, 0.5);
  d.root = f.get_string("root", "");
  if (f.has("normalize")) {
    JsonFields n(f.get_raw("normalize"), where + ": data.normalize");
    d.mean = n.get_numbers("mean", d.mean);
    d.std = n.get_numbers("std", d.std);
    n.finish();
    if (d.mean.size() != channels) throw ConfigError(n.error("mean", per_channel));
    if (d.std.size() != channels) throw ConfigError(n.error("std", per_channel));
    for (double s : d.std)
      if (!(s > 0) || !std::isfinite(s)) throw ConfigError(n.error("std", "must be > 0"));
  }
  d.shuffle = f.get_bool("shuffle", true);
  if (f.has("augment")) {
    JsonFields a(f.get_raw("augment"), where + ": data.augment");
    d.augment.crop_padding = a.get_int("crop_padding", 0);
    d.augment.horizontal_flip = a.get_bool("horizontal_flip", false);
    d.augment.cutout = a.get_int("cutout", 0);
    d.augment.mixup = a.get_number("mixup", 0.0);
    d.augment.cutmix = a.get_number("cutmix", 0.0);
    if (a.has("policy")) d.augment.policy = parse_policy(a.get_raw("policy"), a.where());
    if (a.has("random_erasing"))
      d.augment.erasing =
          parse_erasing(a.get_raw("random_erasing"), a.where(), static_cast<int64_t>(channels));
    a.finish();
    for (const char* key : {"mixup", "cutmix"}) {
      const double alpha = std::string(key) == "mixup" ? d.augment.mixup : d.augment.cutmix;
      if (!(alpha >= 0 && alpha <= 100))
        throw ConfigError(a.error(key, "must be in [0, 100] (Beta(alpha, alpha); 0 = off)"));
    }
    if (d.augment.crop_padding < 0 || d.augment.crop_padding > 64)
      throw ConfigError(a.error("crop_padding", "must be in 0..64"));
    if (d.augment.cutout < 0 || d.augment.cutout > 64)
      throw ConfigError(a.error("cutout", "must be in 0..64 (the square's side; 0 = none)"));
    if (d.augment.cutout > 0 && d.augment.erasing.enabled())
      throw ConfigError(
          a.error("random_erasing", "and cutout both erase a rectangle; set one of them"));
  }
  d.classes = f.get_strings("classes", {});
  if (!d.classes.empty() && d.classes.size() != static_cast<size_t>(set->classes))
    throw ConfigError(f.error("classes", "must name the " + std::to_string(set->classes) + " " +
                                             set->title + " classes, got " +
                                             std::to_string(d.classes.size())));
  d.train_limit = f.get_int("train_limit", 0);
  d.test_limit = f.get_int("test_limit", 0);
  if (d.train_limit < 0) throw ConfigError(f.error("train_limit", "must be >= 0"));
  if (d.test_limit < 0) throw ConfigError(f.error("test_limit", "must be >= 0"));
  d.validation = f.get_int("validation", 0);
  if (d.validation < 0)
    throw ConfigError(f.error("validation", "must be >= 0 (training images held out; 0 = none)"));
  f.finish();
  return d;
}

// fp16 gradients below 2^-24 vanish: scale the loss. Dynamic scaling starts
// where PyTorch's GradScaler does (2^16) and backs off; a fixed scale of 1024
// suits these networks' losses.
double default_loss_scale(Precision p, bool dynamic) {
  return dynamic ? 65536.0 : p == Precision::FP16 ? 1024.0 : 1.0;
}

}  // namespace

std::string swa_refusal(const TrainingConfig& t) {
  if (!t.swa.enabled()) return "";
  if (t.ema_decay > 0) return "and ema_decay (--ema) both average the weights: choose one";
  if (t.schedule.type == "plateau" || t.schedule.unit != "epoch")
    return "needs a schedule of unit \"epoch\" other than plateau (SWALR takes over the rate "
           "per epoch)";
  if (t.swa.start_epoch > t.epochs)
    return "start_epoch " + std::to_string(t.swa.start_epoch) + " is after the last epoch (" +
           std::to_string(t.epochs) + ")";
  return "";
}

namespace {

TrainingConfig parse_training(const nlohmann::json& j, const std::string& where) {
  TrainingConfig t;
  JsonFields f(j, where + ": training");
  t.epochs = f.get_int("epochs", t.epochs);
  t.batch_size = f.get_int("batch_size", t.batch_size);
  t.accumulate_steps = f.get_int("accumulate_steps", t.accumulate_steps);
  t.loss = f.get_string("loss", t.loss);
  if (t.loss != "cross_entropy")
    throw ConfigError(f.error("loss", "is '" + t.loss + "', expected cross_entropy"));
  t.optimizer = OptimizerConfig::from_json(f.get_raw("optimizer"), where);
  if (f.has("schedule")) t.schedule = ScheduleConfig::from_json(f.get_raw("schedule"), where);
  t.label_smoothing = f.get_number("label_smoothing", 0.0);
  t.clip_grad_norm = f.get_number("clip_grad_norm", 0.0);
  t.ema_decay = f.get_number("ema_decay", 0.0);
  t.ema_buffers = f.get_bool("ema_buffers", false);
  if (f.has("swa")) t.swa = SwaConfig::from_json(f.get_raw("swa"), where);
  t.log_every = f.get_int("log_every", t.log_every);
  const int64_t seed = f.get_int("seed", 0);
  t.checkpoint = f.get_string("checkpoint", t.checkpoint);
  t.deterministic = f.get_bool("deterministic", false);
  t.cuda_graph = f.get_bool("cuda_graph", false);
  t.fused_step = f.get_bool("fused_step", false);
  t.tf32 = f.get_bool("tf32", false);
  t.channels_last = f.get_bool("channels_last", false);
  const std::string precision = f.get_string("precision", "fp32");
  if (!parse_precision(precision, t.precision))
    throw ConfigError(f.error("precision", "is '" + precision + "', expected fp32, bf16 or fp16"));
  t.dynamic_loss_scale = f.get_bool("dynamic_loss_scale", t.precision == Precision::FP16);
  t.loss_scale = f.get_number("loss_scale", default_loss_scale(t.precision, t.dynamic_loss_scale));
  t.loss_scale_growth_interval = f.get_int("loss_scale_growth_interval", 2000);
  t.checkpoint_every_steps = f.get_int("checkpoint_every_steps", 0);
  t.checkpoint_every_epochs = f.get_int("checkpoint_every_epochs", 0);
  t.keep_checkpoints = f.get_int("keep_checkpoints", t.keep_checkpoints);
  t.init_from = f.get_string("init_from", "");
  t.init_skip = f.get_strings("init_skip", {});
  t.freeze = f.get_strings("freeze", {});
  f.finish();
  if (t.checkpoint_every_steps < 0)
    throw ConfigError(f.error("checkpoint_every_steps", "must be >= 0 (0 = off)"));
  if (t.checkpoint_every_epochs < 0)
    throw ConfigError(f.error("checkpoint_every_epochs", "must be >= 0 (0 = off)"));
  if (t.keep_checkpoints < 1) throw ConfigError(f.error("keep_checkpoints", "must be >= 1"));
  if (t.epochs < 1) throw ConfigError(f.error("epochs", "must be >= 1"));
  if (!(t.loss_scale >= 1 && t.loss_scale <= 16777216))
    throw ConfigError(f.error("loss_scale", "must be in [1, 2^24]"));
  if (t.loss_scale_growth_interval < 1 || t.loss_scale_growth_interval > 1000000000)
    throw ConfigError(f.error("loss_scale_growth_interval", "must be in 1..10^9"));
  if (!(t.clip_grad_norm >= 0) || !std::isfinite(t.clip_grad_norm))
    throw ConfigError(f.error("clip_grad_norm", "must be a finite number >= 0 (0 = off)"));
  if (!(t.ema_decay >= 0 && t.ema_decay < 1))
    throw ConfigError(f.error("ema_decay", "must be in [0, 1) (0 = off; 0.999 is usual)"));
  if (const std::string why = swa_refusal(t); !why.empty()) throw ConfigError(f.error("swa", why));
  if (!(t.label_smoothing >= 0 && t.label_smoothing < 1))
    throw ConfigError(f.error("label_smoothing", "must be in [0, 1)"));
  const bool cycles = t.schedule.type == "onecycle" || t.schedule.type == "cyclic";
  if (cycles && t.schedule.cycle_momentum && !t.optimizer.has_momentum())
    throw ConfigError(f.error("schedule", "cycles momentum but " + t.optimizer.display_name() +
                                              " has no momentum (set cycle_momentum false)"));
  if (cycles && t.schedule.cycle_momentum && !t.optimizer.is_adam() && t.optimizer.momentum == 0)
    throw ConfigError(f.error("schedule", "cycles momentum but the " + t.optimizer.display_name() +
                                              " optimizer has momentum 0 "
                                              "(set momentum, or cycle_momentum false)"));
  if (t.batch_size < 1 || t.batch_size > 65536)
    throw ConfigError(f.error("batch_size", "must be in 1..65536"));
  if (t.accumulate_steps < 1 || t.accumulate_steps > 65536)
    throw ConfigError(
        f.error("accumulate_steps", "must be in 1..65536 (batches per optimizer step; 1 = off)"));
  if (t.log_every < 1) throw ConfigError(f.error("log_every", "must be >= 1"));
  if (seed < 0) throw ConfigError(f.error("seed", "must be >= 0"));
  if (t.checkpoint.empty()) throw ConfigError(f.error("checkpoint", "must be a file path"));
  t.seed = static_cast<uint64_t>(seed);
  return t;
}

}  // namespace

Config Config::from_json(const nlohmann::json& j, const std::string& where) {
  Config c;
  JsonFields f(j, where);
  c.network = f.get_raw("network");
  if (!c.network.is_object())
    throw ConfigError(f.error("network", "must be an object with name, input and layers"));
  c.data = parse_data(f.has("data") ? f.get_raw("data") : nlohmann::json::object(), where);
  c.training = parse_training(f.get_raw("training"), where);
  if (f.has("eval")) {
    JsonFields e(f.get_raw("eval"), where + ": eval");
    c.eval.batch_size = e.get_int("batch_size", c.eval.batch_size);
    c.eval.tta_flip = e.get_bool("tta_flip", false);
    c.eval.every_epochs = e.get_int("every_epochs", 0);
    c.eval.keep_best = e.get_bool("keep_best", true);
    c.eval.early_stopping = e.get_int("early_stopping", 0);
    e.finish();
    if (c.eval.early_stopping < 0)
      throw ConfigError(e.error("early_stopping", "must be >= 0 (evaluations; 0 = off)"));
    if (c.eval.early_stopping > 0 && c.eval.every_epochs == 0)
      throw ConfigError(
          e.error("early_stopping", "needs evaluations during training: set eval.every_epochs"));
    if (c.eval.every_epochs < 0)
      throw ConfigError(e.error("every_epochs", "must be >= 0 (0 = at the end only)"));
    if (c.eval.batch_size < 1 || c.eval.batch_size > 65536)
      throw ConfigError(e.error("batch_size", "must be in 1..65536"));
  }
  if (c.training.schedule.type == "plateau" && c.eval.every_epochs == 0)
    throw ConfigError(where +
                      ": training.schedule 'plateau' lowers the rate after evaluations during "
                      "training: set eval.every_epochs (1 = after every epoch)");
  f.allow("comment");
  f.finish();
  return c;
}

nlohmann::json parse_json_text(const std::string& text, const std::string& where) {
  try {
    return nlohmann::json::parse(text, nullptr, true, /*ignore_comments=*/true);
  } catch (const nlohmann::json::exception& e) {
    // parse_error knows the byte; out_of_range (a number too large) does not.
    const auto* parse = dynamic_cast<const nlohmann::json::parse_error*>(&e);
    std::string reason = e.what();
    if (auto at = reason.rfind("] "); at != std::string::npos) reason = reason.substr(at + 2);
    if (auto at = reason.rfind(": "); parse && at != std::string::npos)
      reason = reason.substr(at + 2);
    if (!parse) throw ConfigError(where + ": invalid JSON: " + reason);
    size_t line = 1, column = 1;
    for (size_t i = 0; i < parse->byte && i < text.size(); ++i) {
      if (text[i] == '\n') {
        ++line;
        column = 1;
      } else {
        ++column;
      }
    }
    throw ConfigError(where + ": invalid JSON at line " + std::to_string(line) + ", column " +
                      std::to_string(column) + ": " + reason);
  }
}

Config Config::load(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) throw ConfigError(path + ": cannot open the config file");
  std::stringstream text;
  text << in.rdbuf();
  if (in.bad()) throw ConfigError(path + ": cannot read the config file");
  return from_json(parse_json_text(text.str(), path), path);
}

nlohmann::json Config::to_json() const {
  nlohmann::json data_json = {{"dataset", data.dataset},
                              {"normalize", {{"mean", data.mean}, {"std", data.std}}},
                              {"shuffle", data.shuffle}};
  if (!data.root.empty()) data_json["root"] = data.root;
  if (data.augment.enabled()) {
    data_json["augment"] = {{"crop_padding", data.augment.crop_padding},
                            {"horizontal_flip", data.augment.horizontal_flip}};
    if (data.augment.cutout > 0) data_json["augment"]["cutout"] = data.augment.cutout;
    if (data.augment.mixup > 0) data_json["augment"]["mixup"] = data.augment.mixup;
    if (data.augment.cutmix > 0) data_json["augment"]["cutmix"] = data.augment.cutmix;
    if (data.augment.policy.enabled())
      data_json["augment"]["policy"] = policy_json(data.augment.policy);
    if (data.augment.erasing.enabled())
      data_json["augment"]["random_erasing"] = erasing_json(data.augment.erasing);
  }
  if (!data.classes.empty()) data_json["classes"] = data.classes;
  if (data.train_limit) data_json["train_limit"] = data.train_limit;
  if (data.test_limit) data_json["test_limit"] = data.test_limit;
  if (data.validation) data_json["validation"] = data.validation;
  nlohmann::json result = {{"network", network},
                           {"data", data_json},
                           {"training",
                            {{"epochs", training.epochs},
                             {"batch_size", training.batch_size},
                             {"accumulate_steps", training.accumulate_steps},
                             {"loss", training.loss},
                             {"optimizer", training.optimizer.to_json()},
                             {"schedule", training.schedule.to_json()},
                             {"label_smoothing", training.label_smoothing},
                             {"clip_grad_norm", training.clip_grad_norm},
                             {"ema_decay", training.ema_decay},
                             {"ema_buffers", training.ema_buffers},
                             {"log_every", training.log_every},
                             {"seed", training.seed},
                             {"checkpoint", training.checkpoint},
                             {"deterministic", training.deterministic},
                             {"cuda_graph", training.cuda_graph},
                             {"fused_step", training.fused_step},
                             {"tf32", training.tf32},
                             {"channels_last", training.channels_last},
                             {"precision", precision_name(training.precision)},
                             {"loss_scale", training.loss_scale},
                             {"dynamic_loss_scale", training.dynamic_loss_scale},
                             {"loss_scale_growth_interval", training.loss_scale_growth_interval},
                             {"checkpoint_every_steps", training.checkpoint_every_steps},
                             {"checkpoint_every_epochs", training.checkpoint_every_epochs},
                             {"keep_checkpoints", training.keep_checkpoints},
                             {"init_from", training.init_from},
                             {"init_skip", training.init_skip},
                             {"freeze", training.freeze}}},
                           {"eval",
                            {{"batch_size", eval.batch_size},
                             {"tta_flip", eval.tta_flip},
                             {"every_epochs", eval.every_epochs},
                             {"keep_best", eval.keep_best},
                             {"early_stopping", eval.early_stopping}}}};
  if (training.swa.enabled()) result["training"]["swa"] = training.swa.to_json();
  return result;
}

std::string describe_loss_scaling(const TrainingConfig& t) {
  char scale[32];
  std::snprintf(scale, sizeof scale, "%.10g", t.loss_scale);
  if (t.dynamic_loss_scale) return std::string("dynamic loss scale from ") + scale;
  if (t.loss_scale != 1.0) return std::string("loss scale ") + scale;
  return "no loss scaling";
}

void apply_overrides(Config& c, const Overrides& o) {
  if (o.data_root) c.data.root = *o.data_root;
  if (o.epochs) {
    if (*o.epochs < 1) throw UsageError("--epochs must be >= 1, got " + std::to_string(*o.epochs));
    c.training.epochs = *o.epochs;
  }
  if (o.batch_size) {
    if (*o.batch_size < 1 || *o.batch_size > 65536)
      throw UsageError("--batch-size must be in 1..65536, got " + std::to_string(*o.batch_size));
    c.training.batch_size = *o.batch_size;
  }
  if (o.accumulate_steps) {
    if (*o.accumulate_steps < 1 || *o.accumulate_steps > 65536)
      throw UsageError("--accumulate-steps must be in 1..65536, got " +
                       std::to_string(*o.accumulate_steps));
    c.training.accumulate_steps = *o.accumulate_steps;
  }
  if (o.lr) {
    if (!(*o.lr > 0) || !std::isfinite(*o.lr))
      throw UsageError("--lr must be a positive number, got " + std::to_string(*o.lr));
    c.training.optimizer.lr = *o.lr;
  }
  if (o.clip_grad_norm) {
    if (!(*o.clip_grad_norm >= 0) || !std::isfinite(*o.clip_grad_norm))
      throw UsageError("--clip-grad-norm must be a finite number >= 0 (0 = off), got " +
                       std::to_string(*o.clip_grad_norm));
    c.training.clip_grad_norm = *o.clip_grad_norm;
  }
  if (o.ema_decay) {
    if (!(*o.ema_decay >= 0 && *o.ema_decay < 1))
      throw UsageError("--ema must be a decay in [0, 1) (0 = off; 0.999 is usual), got " +
                       std::to_string(*o.ema_decay));
    c.training.ema_decay = *o.ema_decay;
  }
  if (o.seed) {
    if (*o.seed < 0) throw UsageError("--seed must be >= 0, got " + std::to_string(*o.seed));
    c.training.seed = static_cast<uint64_t>(*o.seed);
  }
  if (o.log_every) {
    if (*o.log_every < 1)
      throw UsageError("--log-every must be >= 1, got " + std::to_string(*o.log_every));
    c.training.log_every = *o.log_every;
  }
  if (o.train_limit) {
    if (*o.train_limit < 0) throw UsageError("--train-limit must be >= 0");
    c.data.train_limit = *o.train_limit;
  }
  if (o.test_limit) {
    if (*o.test_limit < 0) throw UsageError("--test-limit must be >= 0");
    c.data.test_limit = *o.test_limit;
  }
  if (o.validation) {
    if (*o.validation < 0) throw UsageError("--validation must be >= 0");
    c.data.validation = *o.validation;
  }
  if (o.checkpoint) {
    if (o.checkpoint->empty()) throw UsageError("--out needs a file path");
    c.training.checkpoint = *o.checkpoint;
  }
  if (o.checkpoint_every_steps) c.training.checkpoint_every_steps = *o.checkpoint_every_steps;
  if (o.checkpoint_every_epochs) c.training.checkpoint_every_epochs = *o.checkpoint_every_epochs;
  if (o.keep_checkpoints) c.training.keep_checkpoints = *o.keep_checkpoints;
  if (o.deterministic) c.training.deterministic = true;
  if (o.cuda_graph && o.no_cuda_graph) throw UsageError("--graph and --no-graph contradict");
  if (o.cuda_graph) c.training.cuda_graph = true;
  if (o.no_cuda_graph) c.training.cuda_graph = false;
  if (o.fused_step && o.no_fused_step)
    throw UsageError("--fused-step and --no-fused-step contradict");
  if (o.fused_step) c.training.fused_step = true;
  if (o.no_fused_step) c.training.fused_step = false;
  if (o.tf32) c.training.tf32 = true;
  if (o.channels_last) c.training.channels_last = true;
  if (o.precision) {
    TrainingConfig& t = c.training;
    const Precision before = t.precision;
    const bool dynamic_before = t.dynamic_loss_scale;
    if (!parse_precision(*o.precision, t.precision))
      throw UsageError("--precision is '" + *o.precision + "', expected fp32, bf16 or fp16");
    // The loss scaling follows the precision unless the config chose it.
    if (t.precision != before) {
      if (t.dynamic_loss_scale == (before == Precision::FP16))
        t.dynamic_loss_scale = t.precision == Precision::FP16;
      if (t.loss_scale == default_loss_scale(before, dynamic_before))
        t.loss_scale = default_loss_scale(t.precision, t.dynamic_loss_scale);
    }
  }
  if (o.init_from) {
    if (o.init_from->empty()) throw UsageError("--init-from needs a file");
    c.training.init_from = *o.init_from;
  }
  SwaConfig& swa = c.training.swa;
  if (o.swa_lr) {
    if (!(*o.swa_lr > 0) || !std::isfinite(*o.swa_lr))
      throw UsageError("--swa-lr must be a positive number, got " + std::to_string(*o.swa_lr));
    swa.lr = *o.swa_lr;
  }
  if (o.swa_start) {
    if (*o.swa_start < 0)
      throw UsageError("--swa-start must be an epoch >= 1 (0 = off), got " +
                       std::to_string(*o.swa_start));
    swa.start_epoch = *o.swa_start;
    if (swa.enabled() && !(swa.lr > 0))
      throw UsageError("--swa-start needs SWALR's rate: pass --swa-lr X (or set training.swa.lr)");
  }
  if (o.swa_lr && !swa.enabled())
    throw UsageError("--swa-lr needs --swa-start E (or training.swa in the config)");
  if (o.swa_start || o.swa_lr)
    if (const std::string why = swa_refusal(c.training); !why.empty())
      throw UsageError("--swa-start/--swa-lr: training.swa " + why);
}

}  // namespace cnne
