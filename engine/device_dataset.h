#pragma once
// DeviceDataset: a data set where the training step needs it. The images stay
// bytes (CIFAR-10's 50,000 training images are 150 MB) on the context's
// device, with their labels, the epoch's order and the normalization table;
// a batch is assembled there by one op (ops::assemble_batch: gather, crop,
// flip, normalize), so no image crosses from the host during training. On the
// CPU the data set's own memory is used, without a copy.
//
// Note [stateless augmentation draws]: the crop, flip and cutout of the image at
// position p of epoch e come from hash(key(seed, e), p) (engine/batch_assembly.h),
// not from a running generator, so both backends draw the same and a resumed
// run augments exactly as an uninterrupted one, with no generator state to save.
#include <cstdint>
#include <string>
#include <vector>

#include "engine/augment.h"
#include "engine/batch_assembly.h"
#include "engine/buffer.h"
#include "engine/context.h"
#include "engine/dataset.h"
#include "engine/normalization.h"
#include "engine/rng.h"
#include "engine/step_args.h"

namespace cnne {

// The batch sizes of one pass over `count` images in batches of `batch_size`:
// the full one (count itself when smaller) and the last, partial one. Given
// to Network::setup, every one is planned (memory, cuDNN algorithms) before
// training instead of in the middle of an epoch.
std::vector<int64_t> pass_batch_sizes(int64_t count, int64_t batch_size);

class DeviceDataset {
 public:
  // `data` must outlive this object on the CPU (its memory is used directly).
  DeviceDataset(Context& ctx, const ImageDataset& data, const Normalization& norm);

  int64_t count() const { return count_; }
  int64_t batches(int64_t batch_size) const { return (count_ + batch_size - 1) / batch_size; }
  int64_t batch_count(int64_t b, int64_t batch_size) const {
    return std::min(batch_size, count_ - b * batch_size);
  }
  // The order of epoch `epoch` (0-based): a shuffle drawn from rng, or the
  // identity; uploaded once per epoch.
  void start_epoch(Rng& rng, int64_t epoch, bool shuffle);
  // Augmentation for the batches that follow: crop/flip from `augment`,
  // drawn with `seed` and the current epoch; `mirror` flips every image. With
  // a policy (Note [augmentation policies]) its tables go to the device and a
  // staging buffer for batches of up to `batch_size` images is set aside
  // (here, not during training); throws DataError for images it cannot take.
  void set_augment(const AugmentConfig& augment, uint64_t seed, int64_t batch_size = 0);
  void set_mirror(bool mirror) { mirror_ = mirror; }
  // The policy's tables on the device (their pointers) and the staging
  // buffer: a captured graph holds both, so they must stay put when
  // set_augment is called again with the same policy.
  const PolicySource& policy_source() const { return policy_; }
  const void* staging() const { return staging_.data(); }
  // The arguments of batch b (its first position, this epoch's augmentation
  // key, its mixing: Note [batch mixing] in engine/mixing.h).
  BatchArgs batch_args(int64_t b, int64_t batch_size) const;
  // Assembles the batch whose arguments `args` points to (on the device; see
  // Note [graph-safe step arguments]) into x (n, C, H, W) and labels (n).
  void assemble(const BatchArgs* args, const Tensor& x, const Tensor& labels) const;
  // Eagerly: batch b through `args` into x and labels, n = batch_count(b, batch_size).
  int64_t load(int64_t b, int64_t batch_size, const Tensor& x, const Tensor& labels,
               StepArgs& args) const;
  // The data set's memory, this epoch's order and the augmentation, for a
  // kernel that assembles its batches itself (the fused step); the pointers
  // stay valid for this object's life, the order follows start_epoch.
  BatchSource source() const;
  const ImageDataset& host() const { return data_; }
  const std::vector<int32_t>& order() const { return order_; }

 private:
  void upload_order();                             // order_ -> order_device_ (GPU only)
  void upload_policy(const PolicyConfig& policy);  // its tables -> policy_ops_, policy_steps_

  Context& ctx_;
  const ImageDataset& data_;
  int64_t count_;
  Buffer pixels_;        // (count, C, H, W) U8, GPU only
  Buffer labels_;        // (count) I32, GPU only
  Buffer order_device_;  // (count) I32, GPU only
  Buffer lut_;           // (C, 256) F32 on the device
  // Note [augmentation policies], with data.augment.policy:
  Buffer policy_ops_;    // (kPolicyOpCount, bins, 2) PolicyOpParams on the device
  Buffer policy_steps_;  // (kAutoAugmentSubPolicies, 2) PolicyStep on the device (AutoAugment)
  Buffer staging_;       // (batch_size, C, H, W) U8 on the device: the batch after the policy
  int64_t staging_images_ = 0;
  PolicySource policy_;          // its pointers into policy_ops_, policy_steps_
  std::string policy_uploaded_;  // describe() of the policy in policy_ops_; "" before any
  std::vector<int32_t> order_;   // (count) this epoch's order, on the host
  AugmentConfig augment_;
  uint64_t seed_ = 0;
  int64_t epoch_ = 0;
  bool mirror_ = false;
};

}  // namespace cnne
