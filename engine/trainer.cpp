#include "engine/trainer.h"

#include <chrono>
#include <cstdio>

#include "cuda/nvtx_range.h"
#include "engine/batch_loader.h"
#include "engine/batch_stage.h"
#include "engine/ops.h"
#include "engine/optimizer.h"

namespace cnne {

Trainer::Trainer(Context& ctx, const Config& config, Network& net, Rng& rng)
    : ctx_(ctx), config_(config), net_(net), rng_(rng) {}

TrainingState Trainer::train(const ImageDataset& data, std::ostream& out) {
  const TrainingConfig& tc = config_.training;
  const Normalization norm(config_.data.mean, config_.data.std);
  BatchLoader loader(data, tc.batch_size, config_.data.shuffle);
  BatchStage stage(ctx_, net_);
  SgdOptimizer optimizer(ctx_, net_, tc.optimizer.hyper());
  LossMeter running(ctx_);  // reset at every print, like the tutorial's running_loss
  LossMeter epoch_meter(ctx_);
  TrainingState state;
  state.seed = tc.seed;
  state.device = std::string(device_name(ctx_.device()));
  char line[160];

  for (int64_t epoch = 1; epoch <= tc.epochs; ++epoch) {
    const auto start = std::chrono::steady_clock::now();
    loader.start_epoch(rng_);
    running.reset();
    epoch_meter.reset();
    int64_t images = 0;
    for (int64_t b = 0; b < loader.batches(); ++b) {
      NvtxRange step_range("train_step");
      const int64_t n = stage.load(loader, b, norm);
      const Tensor logits = net_.forward(n);
      const Tensor dlogits = net_.output_grad(n);
      ops::softmax_cross_entropy(ctx_, logits, stage.labels(n), &dlogits, running.loss_sum(),
                                 epoch_meter.correct());
      net_.backward(n);
      optimizer.step(net_);
      images += n;
      if ((b + 1) % tc.log_every == 0) {
        const double mean = running.read().loss_sum / static_cast<double>(tc.log_every);
        std::snprintf(line, sizeof line, "[Epoch: %lld, Batch: %lld] Loss: %.3f\n",
                      static_cast<long long>(epoch), static_cast<long long>(b + 1), mean);
        out << line << std::flush;
        state.last_loss = mean;
        running.reset();
      }
    }
    ctx_.synchronize();
    const double seconds =
        std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
    EpochReport report{
        epoch, loader.batches(), seconds, seconds > 0 ? static_cast<double>(images) / seconds : 0.0,
        images
            ? 100.0 * static_cast<double>(epoch_meter.read().correct) / static_cast<double>(images)
            : 0.0};
    reports_.push_back(report);
    std::snprintf(line, sizeof line,
                  "Epoch %lld: %lld batches in %.2f s, %.0f images/s, train accuracy %.2f%%\n",
                  static_cast<long long>(epoch), static_cast<long long>(report.batches),
                  report.seconds, report.images_per_second, report.train_accuracy);
    out << line << std::flush;
    state.epochs_completed = epoch;
    state.steps = optimizer.steps();
  }
  return state;
}

}  // namespace cnne
