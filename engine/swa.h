#pragma once
// torch.optim.swa_utils.update_bn for training.swa's average (Note
// [stochastic weight averaging] in engine/swa_config.h).
#include <cstdint>

#include "engine/context.h"
#include "engine/device_dataset.h"
#include "engine/network.h"
#include "engine/step_args.h"

namespace cnne {

// torch.optim.swa_utils.update_bn on the network as it is (the caller has put
// the average in it): every BatchNorm's running statistics reset, then the
// cumulative average over the training images of `data` in order, without
// augmentation, in batches of `batch_size` (set up in `net`), forwards in
// training mode; `args` carries the batches (and the dropout keys, drawn from
// `seed`). Leaves the data set unshuffled and unaugmented: the caller's next
// start_epoch / set_augment restore them. Nothing to do without BatchNorm.
void recompute_batchnorm_statistics(Context& ctx, Network& net, DeviceDataset& data,
                                    int64_t batch_size, StepArgs& args, uint64_t seed);

}  // namespace cnne
