#include "engine/evaluator.h"

#include <vector>

#include "engine/batch_stage.h"
#include "engine/error.h"
#include "engine/ops.h"

namespace cnne {

Evaluation evaluate(Context& ctx, Network& net, const ImageDataset& data, const Normalization& norm,
                    int64_t batch_size) {
  const int64_t classes = net.output_shape(1)[1];
  Evaluation result{ConfusionMatrix(classes), 0.0};
  if (data.count == 0) return result;
  BatchLoader loader(data, batch_size, /*shuffle=*/false);
  BatchStage stage(ctx, net);
  LossMeter meter(ctx);
  Buffer predictions(ctx.device(), sizeof(int32_t) * static_cast<size_t>(batch_size));
  std::vector<int32_t> host(static_cast<size_t>(batch_size));
  double weighted_loss = 0;
  for (int64_t b = 0; b < loader.batches(); ++b) {
    const int64_t n = stage.load(loader, b, norm);
    const Tensor logits = net.forward(n);
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
