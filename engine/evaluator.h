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
};

// With tta_flip, each image's logits are the mean of its own and its mirror
// image's (the loss is then that of the averaged logits).
// With `logits_out`, every image's logits (those the prediction is taken
// from) are copied to it: (data.count, classes) F32, row-major.
Evaluation evaluate(Context& ctx, Network& net, const ImageDataset& data, const Normalization& norm,
                    int64_t batch_size, bool tta_flip = false,
                    std::vector<float>* logits_out = nullptr);

}  // namespace cnne
