#include "engine/evaluator.h"

#include <algorithm>
#include <cmath>
#include <vector>

#include "engine/device_dataset.h"
#include "engine/error.h"
#include "engine/half.h"
#include "engine/loss_meter.h"
#include "engine/ops.h"
#include "engine/step_args.h"

namespace cnne {

double Evaluation::top5_percent() const {
  const int64_t total = confusion.total();
  return total == 0 ? 0.0 : 100.0 * static_cast<double>(top5_correct) / static_cast<double>(total);
}

int64_t label_rank(const float* logits, int64_t classes, int32_t label) {
  const float y = logits[label];
  // a is above b: NaN over numbers (torch.topk), else by value
  const auto above = [](float a, float b) {
    return std::isnan(a) ? !std::isnan(b) : (!std::isnan(b) && a > b);
  };
  const auto same = [](float a, float b) { return std::isnan(a) ? std::isnan(b) : a == b; };
  int64_t rank = 0;
  for (int64_t j = 0; j < classes; ++j)
    if (above(logits[j], y) || (j < label && same(logits[j], y))) ++rank;
  return rank;
}

Evaluation evaluate(Context& ctx, Network& net, const ImageDataset& data, const Normalization& norm,
                    int64_t batch_size, bool tta_flip, PerImage* per_image) {
  const int64_t classes = net.output_shape(1)[1];
  Evaluation result{ConfusionMatrix(classes), 0.0, 0};
  if (per_image) {
    per_image->logits.assign(static_cast<size_t>(data.count * classes), 0.0f);
    per_image->predicted.assign(static_cast<size_t>(data.count), 0);
  }
  if (data.count == 0) return result;
  // Evaluation mode (running statistics, no dropout) for the evaluation only.
  struct EvalMode {
    Network& net;
    bool was_training;
    explicit EvalMode(Network& n) : net(n), was_training(n.layer(0).training()) {
      net.set_training(false);
    }
    ~EvalMode() { net.set_training(was_training); }
  } eval_mode(net);
  DeviceDataset dataset(ctx, data, norm);  // in order, unaugmented
  StepArgs args(ctx);
  Buffer labels(ctx.device(), sizeof(int32_t) * static_cast<size_t>(batch_size));  // (B) I32
  // mean of the two views' logits: (batch_size, classes) F32
  Buffer averaged(
      ctx.device(),
      tta_flip ? sizeof(float) * static_cast<size_t>(net.output_grad(batch_size).numel()) : 0);
  LossMeter meter(ctx);
  Buffer predictions(ctx.device(), sizeof(int32_t) * static_cast<size_t>(batch_size));
  std::vector<int32_t> host(static_cast<size_t>(batch_size));
  double weighted_loss = 0;
  for (int64_t b = 0; b < dataset.batches(batch_size); ++b) {
    const int64_t n = dataset.batch_count(b, batch_size);
    const Tensor batch_labels(static_cast<int32_t*>(labels.data()), Shape{n}, ctx.device());
    dataset.set_mirror(false);
    dataset.load(b, batch_size, net.input(n), batch_labels, args);
    Tensor logits = net.forward(n);
    if (tta_flip) {
      const Tensor mean(static_cast<float*>(averaged.data()), logits.shape, ctx.device());
      ops::axpby(ctx, 0.5f, logits, 0.0f, mean);
      dataset.set_mirror(true);
      dataset.load(b, batch_size, net.input(n), batch_labels, args);
      ops::axpby(ctx, 0.5f, net.forward(n), 1.0f, mean);
      logits = mean;
    }
    meter.reset();
    ops::softmax_cross_entropy(ctx, logits, batch_labels, 0.0f, nullptr, nullptr, meter.loss_sum(),
                               meter.correct());
    const Tensor pred(static_cast<int32_t*>(predictions.data()), Shape{n}, ctx.device());
    ops::argmax_rows(ctx, logits, pred);
    copy_tensor(pred, Tensor(host.data(), Shape{n}));
    const std::vector<float> rows = download_f32(logits);  // (n, classes)
    for (int64_t i = 0; i < n; ++i)
      if (label_rank(rows.data() + i * classes, classes,
                     data.labels[static_cast<size_t>(b * batch_size + i)]) < 5)
        ++result.top5_correct;
    if (per_image) {
      std::copy(rows.begin(), rows.end(),
                per_image->logits.begin() + static_cast<std::ptrdiff_t>(b * batch_size * classes));
      std::copy(host.begin(), host.begin() + n,
                per_image->predicted.begin() + static_cast<std::ptrdiff_t>(b * batch_size));
    }
    weighted_loss += meter.read().loss_sum * static_cast<double>(n);
    for (int64_t i = 0; i < n; ++i)
      result.confusion.add(data.labels[static_cast<size_t>(b * batch_size + i)],
                           host[static_cast<size_t>(i)]);
  }
  result.mean_loss = weighted_loss / static_cast<double>(data.count);
  return result;
}

}  // namespace cnne
