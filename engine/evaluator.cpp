#include "engine/evaluator.h"

#include <vector>

#include "engine/batch_stage.h"
#include "engine/error.h"
#include "engine/ops.h"

namespace cnne {

Evaluation evaluate(Context& ctx, Network& net, const ImageDataset& data, const Normalization& norm,
                    int64_t batch_size, bool tta_flip) {
  const int64_t classes = net.output_shape(1)[1];
  Evaluation result{ConfusionMatrix(classes), 0.0};
  if (data.count == 0) return result;
  BatchLoader loader(data, batch_size, /*shuffle=*/false);
  BatchLoader mirrored(data, batch_size, /*shuffle=*/false);
  mirrored.set_mirror(true);
  BatchStage stage(ctx, net);
  // mean of the two views' logits: (batch_size, classes)
  Buffer averaged(ctx.device(), tta_flip ? net.output_grad(batch_size).bytes() : 0);
  LossMeter meter(ctx);
  Buffer predictions(ctx.device(), sizeof(int32_t) * static_cast<size_t>(batch_size));
  std::vector<int32_t> host(static_cast<size_t>(batch_size));
  double weighted_loss = 0;
  for (int64_t b = 0; b < loader.batches(); ++b) {
    const int64_t n = stage.load(loader, b, norm);
    Tensor logits = net.forward(n);
    if (tta_flip) {
      const Tensor mean(static_cast<float*>(averaged.data()), logits.shape, ctx.device());
      ops::axpby(ctx, 0.5f, logits, 0.0f, mean);
      stage.load(mirrored, b, norm);
      ops::axpby(ctx, 0.5f, net.forward(n), 1.0f, mean);
      logits = mean;
    }
    meter.reset();
    ops::softmax_cross_entropy(ctx, logits, stage.labels(n), 0.0f, nullptr, meter.loss_sum(),
                               meter.correct());
    const Tensor pred(static_cast<int32_t*>(predictions.data()), Shape{n}, ctx.device());
    ops::argmax_rows(ctx, logits, pred);
    copy_tensor(pred, Tensor(host.data(), Shape{n}));
    weighted_loss += meter.read().loss_sum * static_cast<double>(n);
    const int32_t* truth = stage.host_labels(n).i32();
    for (int64_t i = 0; i < n; ++i) result.confusion.add(truth[i], host[static_cast<size_t>(i)]);
  }
  result.mean_loss = weighted_loss / static_cast<double>(data.count);
  return result;
}

}  // namespace cnne
