#include "engine/swa.h"

#include "cuda/nvtx_range.h"
#include "engine/buffer.h"

namespace cnne {

void recompute_batchnorm_statistics(Context& ctx, Network& net, DeviceDataset& data,
                                    int64_t batch_size, StepArgs& args, uint64_t seed) {
  if (net.buffers().empty()) return;  // update_bn: no BatchNorm, nothing to do
  NvtxRange range("swa_update_bn");
  net.reset_buffers();
  net.set_training(true);
  data.set_augment(AugmentConfig{}, seed);
  data.set_mirror(false);
  Rng unused(0);
  data.start_epoch(unused, 0, /*shuffle=*/false);
  Buffer labels(ctx.device(), sizeof(int32_t) * static_cast<size_t>(batch_size));  // (B) I32
  const int64_t batches = data.batches(batch_size);
  try {
    for (int64_t b = 0; b < batches; ++b) {
      const int64_t n = data.batch_count(b, batch_size);
      // momentum None: the k-th batch's statistics weigh 1 / k in the running ones
      net.set_statistics_momentum(1.0 / static_cast<double>(b + 1));
      StepScalars& scalars = args.next();
      scalars.batch = data.batch_args(b, batch_size);
      scalars.step_key = Network::step_key(seed ^ 0x5357415f424e5fULL, b);  // "SWA_BN_"
      args.upload();
      data.assemble(args.batch(), net.input(n),
                    Tensor(static_cast<int32_t*>(labels.data()), Shape{n}, ctx.device()));
      net.forward(n);
    }
  } catch (...) {
    net.set_statistics_momentum(-1);
    throw;
  }
  net.set_statistics_momentum(-1);
  ctx.synchronize();  // `labels` and the batches' arguments are freed or reused after this
}

}  // namespace cnne
