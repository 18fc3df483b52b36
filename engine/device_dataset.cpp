#include "engine/device_dataset.h"

#include <algorithm>
#include <numeric>

#include "engine/batch_assembly.h"
#include "engine/erasing_config.h"
#include "engine/error.h"
#include "engine/mixing.h"
#include "engine/ops.h"

namespace cnne {

std::vector<int64_t> pass_batch_sizes(int64_t count, int64_t batch_size) {
  if (count <= 0 || batch_size <= 0) return {std::max<int64_t>(batch_size, 1)};
  std::vector<int64_t> sizes{std::min(count, batch_size)};
  if (count > batch_size && count % batch_size != 0) sizes.push_back(count % batch_size);
  return sizes;
}

DeviceDataset::DeviceDataset(Context& ctx, const ImageDataset& data, const Normalization& norm)
    : ctx_(ctx), data_(data), count_(data.count), order_(static_cast<size_t>(data.count)) {
  if (norm.channels() != data.channels)
    throw DataError("normalize has " + std::to_string(norm.channels()) +
                    " channels, the images have " + std::to_string(data.channels));
  const std::vector<float> table = norm.flat();
  lut_ = Buffer(ctx.device(), table.size() * sizeof(float));
  copy_tensor(Tensor(const_cast<float*>(table.data()), Shape{norm.channels(), 256}),
              Tensor(static_cast<float*>(lut_.data()), Shape{norm.channels(), 256}, ctx.device()));
  std::iota(order_.begin(), order_.end(), 0);
  if (ctx.device() != Device::CPU) {
    const Shape images{count_, data.channels, data.height, data.width};
    pixels_ = Buffer(ctx.device(), data.pixels.size());
    labels_ = Buffer(ctx.device(), data.labels.size() * sizeof(int32_t));
    order_device_ = Buffer(ctx.device(), order_.size() * sizeof(int32_t));
    copy_tensor(Tensor(const_cast<uint8_t*>(data.pixels.data()), images),
                Tensor(static_cast<uint8_t*>(pixels_.data()), images, ctx.device()));
    copy_tensor(Tensor(const_cast<int32_t*>(data.labels.data()), Shape{count_}),
                Tensor(static_cast<int32_t*>(labels_.data()), Shape{count_}, ctx.device()));
  }
  upload_order();  // the identity order, for users that never start an epoch (evaluation)
}

void DeviceDataset::upload_order() {
  if (ctx_.device() != Device::CPU)
    copy_tensor(Tensor(order_.data(), Shape{count_}),
                Tensor(static_cast<int32_t*>(order_device_.data()), Shape{count_}, ctx_.device()));
}

void DeviceDataset::start_epoch(Rng& rng, int64_t epoch, bool shuffle) {
  epoch_ = epoch;
  std::iota(order_.begin(), order_.end(), 0);
  if (shuffle) rng.shuffle(order_);
  upload_order();
}

void DeviceDataset::set_augment(const AugmentConfig& augment, uint64_t seed, int64_t batch_size) {
  augment_ = augment;
  seed_ = seed;
  if (!augment.policy.enabled()) return;
  const int64_t image_bytes = data_.channels * data_.height * data_.width;
  if ((data_.channels != 1 && data_.channels != 3) || image_bytes > kPolicyMaxImageBytes)
    throw DataError("data.augment.policy: takes images of 1 or 3 channels and at most " +
                    std::to_string(kPolicyMaxImageBytes) + " bytes (3x64x64); these are " +
                    std::to_string(data_.channels) + "x" + std::to_string(data_.height) + "x" +
                    std::to_string(data_.width));
  // Once per policy: the tables stay where a captured CUDA graph's kernels read
  // them when the trainer sets the augmentation again (after SWA's statistics pass)
  if (policy_uploaded_ != augment.policy.describe()) upload_policy(augment.policy);
  if (batch_size > staging_images_) {
    staging_ = Buffer(ctx_.device(), static_cast<size_t>(batch_size * image_bytes));
    staging_images_ = batch_size;
  }
}

void DeviceDataset::upload_policy(const PolicyConfig& policy) {
  const PolicyTable table =
      make_policy_table(policy, static_cast<int>(data_.height), static_cast<int>(data_.width));
  const auto upload = [&](Buffer& buffer, const void* bytes, size_t size) {
    buffer = Buffer(ctx_.device(), size);
    const Shape flat{static_cast<int64_t>(size)};
    copy_tensor(Tensor(static_cast<uint8_t*>(const_cast<void*>(bytes)), flat),
                Tensor(static_cast<uint8_t*>(buffer.data()), flat, ctx_.device()));
  };
  upload(policy_ops_, table.ops.data(), table.ops.size() * sizeof(PolicyOpParams));
  policy_ = table.source;
  policy_.ops = static_cast<const PolicyOpParams*>(policy_ops_.data());
  if (!table.steps.empty()) {
    upload(policy_steps_, table.steps.data(), table.steps.size() * sizeof(PolicyStep));
    policy_.steps = static_cast<const PolicyStep*>(policy_steps_.data());
  }
  policy_uploaded_ = policy.describe();
}

BatchArgs DeviceDataset::batch_args(int64_t b, int64_t batch_size) const {
  BatchArgs args{b * batch_size, augment_key(seed_, epoch_)};
  draw_mix(augment_, args.key, b, batch_count(b, batch_size), static_cast<int>(data_.height),
           static_cast<int>(data_.width), args);
  return args;
}

int64_t DeviceDataset::load(int64_t b, int64_t batch_size, const Tensor& x, const Tensor& labels,
                            StepArgs& args) const {
  const int64_t n = batch_count(b, batch_size);
  if (x.shape[0] != n || labels.numel() != n)
    throw Error("DeviceDataset::load: batch " + std::to_string(b) + " has " + std::to_string(n) +
                " images, the tensors hold " + std::to_string(x.shape[0]));
  args.next().batch = batch_args(b, batch_size);
  args.upload();
  assemble(args.batch(), x, labels);
  return n;
}

BatchSource DeviceDataset::source() const {
  const bool host = ctx_.device() == Device::CPU;
  BatchSource s;
  s.pixels = host ? data_.pixels.data() : static_cast<const uint8_t*>(pixels_.data());
  s.labels = host ? data_.labels.data() : static_cast<const int32_t*>(labels_.data());
  s.order = host ? order_.data() : static_cast<const int32_t*>(order_device_.data());
  s.lut = static_cast<const float*>(lut_.data());
  s.aug.crop_padding = static_cast<int>(augment_.crop_padding);
  s.aug.flip = mirror_ ? 2 : (augment_.horizontal_flip ? 1 : 0);
  s.aug.cutout = static_cast<int>(augment_.cutout);
  if (augment_.erasing.enabled()) set_erasing(s.aug, augment_.erasing, data_.channels);
  s.channels = static_cast<int32_t>(data_.channels);
  s.height = static_cast<int32_t>(data_.height);
  s.width = static_cast<int32_t>(data_.width);
  return s;
}

void DeviceDataset::assemble(const BatchArgs* args, const Tensor& x, const Tensor& labels) const {
  const bool host = ctx_.device() == Device::CPU;
  const Shape images{count_, data_.channels, data_.height, data_.width};
  const Tensor pixels = host ? Tensor(const_cast<uint8_t*>(data_.pixels.data()), images)
                             : Tensor(static_cast<uint8_t*>(pixels_.data()), images, ctx_.device());
  const Tensor all_labels =
      host ? Tensor(const_cast<int32_t*>(data_.labels.data()), Shape{count_})
           : Tensor(static_cast<int32_t*>(labels_.data()), Shape{count_}, ctx_.device());
  const Tensor order =
      host ? Tensor(const_cast<int32_t*>(order_.data()), Shape{count_})
           : Tensor(static_cast<int32_t*>(order_device_.data()), Shape{count_}, ctx_.device());
  const Tensor lut(static_cast<float*>(lut_.data()), Shape{data_.channels, 256}, ctx_.device());
  const BatchAugment aug = source().aug;
  if (!augment_.policy.enabled()) {
    ops::assemble_batch(ctx_, pixels, all_labels, order, args, aug, lut, x, labels);
    return;
  }
  // Note [augmentation policies]: crop, flip and the policy into the staging
  // buffer, then normalization, cutout and mixing from there
  const int64_t n = x.shape[0];
  if (n > staging_images_)
    throw Error("DeviceDataset::assemble: a batch of " + std::to_string(n) +
                " images, the policy's staging buffer holds " + std::to_string(staging_images_) +
                " (set_augment's batch_size)");
  const Tensor staged(static_cast<uint8_t*>(staging_.data()),
                      Shape{n, data_.channels, data_.height, data_.width}, ctx_.device());
  ops::augment_policy(ctx_, pixels, order, args, aug, policy_, staged);
  BatchAugment rest = aug;  // cutout and erasing still to come
  rest.crop_padding = rest.flip = 0;
  rest.staged = 1;
  ops::assemble_batch(ctx_, staged, all_labels, order, args, rest, lut, x, labels);
}

}  // namespace cnne
