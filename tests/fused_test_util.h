#pragma once
// What the fused-step tests share (tests/fused_step_test.cpp and
// tests/fused_step_gpu_test.cpp): small data sets, the networks that cover
// what the fused step takes, and a training run through the Trainer.
#include <cstdint>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "engine/config.h"
#include "engine/context.h"
#include "engine/dataset.h"
#include "engine/device.h"
#include "engine/device_dataset.h"
#include "engine/fused_step.h"
#include "engine/loss_meter.h"
#include "engine/network.h"
#include "engine/optimizer.h"
#include "engine/safetensors.h"
#include "engine/training_state.h"

namespace cnne::fused_test {

// `count` random 32x32 RGB images with random labels.
ImageDataset random_images(int64_t count, uint64_t seed);
// `count` random images of the shape `json`'s network takes, random labels.
ImageDataset images_for(const nlohmann::json& json, int64_t count, uint64_t seed);

// A network with every option the fused step takes (strided, padded conv
// without bias; overlapping padded max-pool; a ReLU after it; a linear layer
// without bias) and a recipe with Nesterov, weight decay, a schedule, label
// smoothing, crop and flip; batches of 5.
nlohmann::json everything_config();
// Tiling max-pools, which the fused step folds into the conv before and the
// stage after: one after a conv without ReLU and followed by a ReLU, one after
// a conv with ReLU and before a linear layer.
nlohmann::json pooled_config();
// The tutorial (configs/simplecnn.json), logging every 5 batches.
nlohmann::json tutorial_config();
// LeNet-5 on grayscale 28x28 images (configs/fashion_mnist.json: a padded
// one-channel conv first), logging every 5 batches.
nlohmann::json fashion_config();

struct Outcome {
  std::vector<float> weights, momentum;
  std::string log;
  TrainingState state;
};

// Trains `json` on `data` on `device`, fused or not (the fused host loop runs
// on the CPU too). Optionally stops after `stop_after` steps, resumes from a
// state, starts from given weights, writes checkpoints to `checkpoint`.
Outcome train(Device device, const nlohmann::json& json, const ImageDataset& data, bool fused,
              int64_t stop_after = 0, const TrainingState* resume_from = nullptr,
              const Safetensors* optimizer_state = nullptr,
              const std::vector<float>* start_weights = nullptr,
              const std::string& checkpoint = "");

// A fused step on the CPU for `json`'s network and recipe over `data`, set
// up as the trainer sets it up (seeded weights, a shuffled first epoch with
// the config's augmentation), for driving run() or its kernel directly.
struct FusedRig {
  FusedRig(const nlohmann::json& json, const ImageDataset& data, int64_t batch);
  // The arguments of the epoch's first `count` steps (rate 0.05, momentum 0.9).
  std::vector<FusedStepArgs> first_steps(int64_t count) const;
  // The network's parameters, then the loss meter's sum and correct count.
  std::vector<float> weights_and_meters();

  Config config;
  int64_t batch;
  Context ctx{Device::CPU};
  Network net;
  std::unique_ptr<Optimizer> optimizer;
  std::unique_ptr<DeviceDataset> dataset;
  LossMeter meter{ctx};
  int32_t nonfinite = 0;  // (1) the step's NaN/Inf count
  std::unique_ptr<FusedStep> step;
};

double max_difference(const std::vector<float>& a, const std::vector<float>& b);
// The "[Epoch: e, Batch: b] Loss: x" values of a log.
std::vector<double> logged_losses(const std::string& log);
// Weights and momentum within `tol`, the same log lines within the printed
// precision, the same steps and epochs.
void expect_same_training(const Outcome& fused, const Outcome& layers, double tol);

}  // namespace cnne::fused_test
