#pragma once
// Evaluation on a labelled set: accuracy, per-class accuracy, confusion
// matrix, mean loss. Batches of eval.batch_size; the network must be set up
// for that batch size.
#include <vector>

#include "engine/context.h"
#include "engine/dataset.h"
#include "engine/metrics.h"
#include "engine/network.h"
#include "engine/normalization.h"

namespace cnne {

struct Evaluation {
  ConfusionMatrix confusion{10};
  double mean_loss = 0;  // mean over images of the cross-entropy
  // Images whose label is among the 5 highest logits (all of them with 5
  // classes or fewer); ties rank as argmax does (the lower class first) and
  // NaN above everything, as torch.topk.
  int64_t top5_correct = 0;
  double top5_percent() const;  // 0 when empty
};

// Where `label` ranks in one row of logits: 0 = the argmax (the first of
// equal maxima), 1 = the runner-up, ... NaN ranks above every number.
int64_t label_rank(const float* logits, int64_t classes, int32_t label);

// With tta_flip, each image's logits are the mean of its own and its mirror
// image's (the loss is then that of the averaged logits).
// Each image's logits and predicted class, kept when asked (eval --predictions).
struct PerImage {
  std::vector<float> logits;  // (count, classes) F32, row-major: those the prediction is taken from
  std::vector<int32_t> predicted;  // (count) I32, the classes the confusion matrix counts
};

Evaluation evaluate(Context& ctx, Network& net, const ImageDataset& data, const Normalization& norm,
                    int64_t batch_size, bool tta_flip = false, PerImage* per_image = nullptr);

}  // namespace cnne
