#pragma once
// The host side of Note [augmentation policies] (engine/augment_policy.h):
// the policy as configured, the magnitude tables torchvision draws from, and
// the table of ready-made op parameters the device reads.
#include <cstdint>
#include <string>
#include <vector>

#include "engine/augment_policy.h"

namespace cnne {

// data.augment.policy.
struct PolicyConfig {
  int32_t kind = kNoPolicy;
  int64_t num_ops = 2;                  // RandAugment
  int64_t magnitude = 9;                // RandAugment: the bin
  int64_t num_magnitude_bins = 31;      // TrivialAugmentWide, RandAugment
  std::string auto_policy = "cifar10";  // AutoAugment: cifar10, imagenet or svhn

  bool enabled() const { return kind != kNoPolicy; }
  // "TrivialAugmentWide()", "RandAugment(num_ops=2, magnitude=9)", "AutoAugment(cifar10)"
  std::string describe() const;
};

// The names of the kinds in the config: trivial_augment_wide, rand_augment, auto_augment.
std::string policy_kind_name(int32_t kind);
// Parses a kind name; kNoPolicy for an unknown one.
int32_t policy_kind_from_name(const std::string& name);
// torchvision's op name ("ShearX", ...).
std::string policy_op_name(int op);

// The magnitudes of op over `bins` bins for an image of height x width, as
// the policy's _augmentation_space makes them (float32 torch.linspace, the
// posterize bits); one 0 for an op without magnitudes.
std::vector<float> policy_magnitudes(int32_t kind, int op, int bins, int height, int width);

// _apply_op(img, op, magnitude) for an image of height x width, as parameters
// (the inverse affine matrix of a geometric op, made in double as
// torchvision's Python does, then rounded to float as its tensors are).
PolicyOpParams make_policy_op(int op, double magnitude, int height, int width);

// One op over a whole image (C, H, W) into out (C, H, W), C 1 or 3: the CPU
// reference's step (engine/augment_policy_cpu.cpp).
void apply_policy_op(const PolicyOpParams& o, const uint8_t* image, int channels, int height,
                     int width, uint8_t* out);

// Everything the device reads: ops (kPolicyOpCount, bins, 2) and, for
// AutoAugment, its sub-policies' steps (25, 2).
struct PolicyTable {
  std::vector<PolicyOpParams> ops;
  std::vector<PolicyStep> steps;
  PolicySource source;  // kind, num_ops, magnitude, bins; the pointers left null
};
// Throws ConfigError for an unknown AutoAugment policy.
PolicyTable make_policy_table(const PolicyConfig& config, int height, int width);

}  // namespace cnne
