#pragma once
// Config: the network and the training recipe from one JSON file
// (docs/CONFIG.md documents every key). The network object is kept as JSON
// and validated by Network::from_json; the rest is parsed here, strictly:
// unknown keys and wrong types are errors that name the key.
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "engine/augment.h"
#include "engine/optimizer_config.h"
#include "engine/precision.h"
#include "engine/schedule.h"

namespace cnne {

struct DataConfig {
  std::string dataset = "cifar10";
  std::string root;                         // "" = look in the usual places
  std::vector<double> mean{0.5, 0.5, 0.5};  // Normalize(mean, std) per channel, on [0, 1]
  std::vector<double> std{0.5, 0.5, 0.5};
  bool shuffle = true;
  AugmentConfig augment;             // training only
  std::vector<std::string> classes;  // empty = batches.meta.txt
  int64_t train_limit = 0;           // use the first N training images; 0 = all
  int64_t test_limit = 0;            // use the first N test images; 0 = all
  // Hold out the last N training images (after train_limit) as a validation
  // set: evaluations during training and the best checkpoint use it, so the
  // test set is only read at the end (engine/validation_split.h); 0 = none.
  int64_t validation = 0;
};

struct TrainingConfig {
  int64_t epochs = 2;
  int64_t batch_size = 4;
  // Gradient accumulation (Caffe's iter_size): one optimizer step per this
  // many batches, on the mean of their gradients (Note [gradient
  // accumulation] in engine/trainer.cpp); 1 = a step per batch.
  int64_t accumulate_steps = 1;
  std::string loss = "cross_entropy";
  OptimizerConfig optimizer;
  ScheduleConfig schedule;
  double label_smoothing = 0.0;  // CrossEntropyLoss(label_smoothing=...)
  // clip_grad_norm_(parameters, max_norm) before every step (engine/gradient_clipper.h); 0 = off.
  double clip_grad_norm = 0.0;
  // An exponential moving average of the weights, updated after every step
  // with this decay (engine/weight_average.h); evaluations and checkpoints use
  // it. 0 = off. ema_buffers: average BatchNorm's running statistics too.
  double ema_decay = 0.0;
  bool ema_buffers = false;
  // Stochastic weight averaging (Note [stochastic weight averaging] in
  // engine/swa_config.h); off unless start_epoch > 0.
  SwaConfig swa;
  int64_t log_every = 2000;  // print the mean loss every N batches
  uint64_t seed = 0;         // initial weights and shuffling
  std::string checkpoint = "cnn_model.safetensors";
  bool deterministic = false;  // bit-reproducible runs (deterministic cuDNN algorithms)
  bool cuda_graph = false;     // capture the training step as a CUDA graph (GPU only)
  // The whole step of a small chain network as one launch for many steps
  // (Note [fused step] in engine/fused_step.h); on the CPU the same phases.
  bool fused_step = false;
  // fp32 convolutions may use TF32 tensor cores (PyTorch's cudnn.allow_tf32,
  // on by default there); off: strict FP32, the reference.
  bool tf32 = false;
  // Channels-last (NHWC) activations on the GPU (Note [channels last] in
  // engine/tensor.h), cuDNN's fast layout for tensor cores; the CPU ignores it.
  bool channels_last = false;
  Precision precision =
      Precision::FP32;  // activations in fp32, bf16 or fp16 (Note [mixed precision])
  // The (initial) loss scale: 65536 dynamic / 1024 static under fp16, else 1.
  double loss_scale = 1.0;
  bool dynamic_loss_scale = false;            // back off on overflow, grow when stable (fp16)
  int64_t loss_scale_growth_interval = 2000;  // good steps before the dynamic scale doubles
  int64_t checkpoint_every_steps = 0;         // periodic checkpoints; 0 = off
  int64_t checkpoint_every_epochs = 0;        // periodic checkpoints; 0 = off
  int64_t keep_checkpoints = 3;               // periodic checkpoints kept (the newest)
  // Transfer learning: start from another model's tensors (by PyTorch name),
  // except those matching init_skip; never update layers matching freeze.
  std::string init_from;
  std::vector<std::string> init_skip;
  std::vector<std::string> freeze;
};

struct EvalConfig {
  int64_t batch_size = 100;
  bool tta_flip = false;     // average the logits of each image and its mirror image
  int64_t every_epochs = 0;  // also evaluate during training every N epochs (0 = at the end only)
  bool keep_best = true;     // with every_epochs: keep the best as <stem>.best.safetensors
  // With every_epochs: stop when this many evaluations in a row found no
  // better accuracy than the best so far (patience); 0 = never.
  int64_t early_stopping = 0;
};

struct Config {
  nlohmann::json network;
  DataConfig data;
  TrainingConfig training;
  EvalConfig eval;

  // `where` names the source (a file) in every error.
  static Config from_json(const nlohmann::json& j, const std::string& where);
  // Reads and parses a file; errors name the file (and line/column for bad JSON).
  static Config load(const std::string& path);
  // The tutorial's config, compiled into the binary (configs/simplecnn.json).
  static const char* embedded_default();
  nlohmann::json to_json() const;
};

// Command-line overrides of the recipe; each set field replaces the config's.
struct Overrides {
  std::optional<std::string> data_root;
  std::optional<int64_t> epochs, batch_size, accumulate_steps, seed, log_every, train_limit,
      test_limit, validation;
  std::optional<double> lr, clip_grad_norm, ema_decay, swa_lr;
  std::optional<int64_t> swa_start;  // training.swa.start_epoch; 0 turns it off
  std::optional<std::string> checkpoint;
  std::optional<int64_t> checkpoint_every_steps, checkpoint_every_epochs, keep_checkpoints;
  bool deterministic = false;
  bool cuda_graph = false;     // --graph
  bool no_cuda_graph = false;  // --no-graph: eager even where the config asks for the graph
  bool fused_step = false;     // --fused-step
  bool no_fused_step = false;  // --no-fused-step: the layer path even where the config asks
  bool tf32 = false;           // --tf32
  bool channels_last = false;  // --channels-last
  std::optional<std::string> init_from;
  std::optional<std::string> precision;  // --precision fp32|bf16|fp16
};

// "dynamic loss scale from 65536", "loss scale 1024" or "no loss scaling".
std::string describe_loss_scaling(const TrainingConfig& t);

// Applies overrides and re-checks the ranges; throws UsageError naming the flag.
void apply_overrides(Config& config, const Overrides& o);
// Why training.swa cannot run with the rest of `t` ("" when it can, or is
// off): with an EMA, a step-unit or plateau schedule, a start after the last
// epoch. The parser, the overrides and the trainer ask it.
std::string swa_refusal(const TrainingConfig& t);

// Parses JSON text; errors name `where` and the line and column.
nlohmann::json parse_json_text(const std::string& text, const std::string& where);

}  // namespace cnne
