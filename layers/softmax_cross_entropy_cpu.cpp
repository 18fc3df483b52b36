// Softmax cross-entropy, CPU reference, in double per row.
#include <cmath>
#include <string>

#include "engine/error.h"
#include "engine/ops.h"

namespace cnne::cpu {

namespace {

// The rows' loss and gradient against labels (N), or, with labels_b and
// lambda, against the mixed target lambda * q(labels) + (1 - lambda) *
// q(labels_b) (Note [batch mixing] in engine/mixing.h).
void cross_entropy_rows(const Tensor& logits, const int32_t* labels, const int32_t* labels_b,
                        const float* lambda, float smoothing, const float* grad_scale,
                        const Tensor* dlogits, const Tensor& loss_sum, const Tensor& correct) {
  const double scale = grad_scale ? *grad_scale : 1.0;
  const int64_t n = logits.shape[0], k = logits.shape[1];
  const double eps = smoothing, off = eps / static_cast<double>(k), on = 1.0 - eps + off;
  const double lam = labels_b ? static_cast<double>(*lambda) : 1.0;
  double total = 0.0;
  int32_t hits = 0;
  for (int64_t i = 0; i < n; ++i) {
    const float* row = logits.f32() + i * k;  // (K)
    const int32_t label = labels[i], other = labels_b ? labels_b[i] : label;
    for (const int32_t l : {label, other})
      if (l < 0 || l >= k)
        throw Error("softmax_cross_entropy: label " + std::to_string(l) + " of sample " +
                    std::to_string(i) + " outside [0, " + std::to_string(k) + ")");
    int64_t best = 0;
    for (int64_t j = 1; j < k; ++j)
      if (row[j] > row[best]) best = j;
    if (best == (lam >= 0.5 ? label : other)) ++hits;
    const double mx = row[best];
    double sum = 0.0;
    for (int64_t j = 0; j < k; ++j) sum += std::exp(static_cast<double>(row[j]) - mx);
    const double log_sum = std::log(sum);
    double nll = -(static_cast<double>(row[label]) - mx - log_sum);
    if (labels_b) nll = lam * nll + (1.0 - lam) * -(static_cast<double>(row[other]) - mx - log_sum);
    if (eps == 0.0) {
      total += nll;
    } else {  // (1 - eps) * nll + eps * mean_j(-log p_j)
      double sum_neg_logp = 0.0;
      for (int64_t j = 0; j < k; ++j) sum_neg_logp -= static_cast<double>(row[j]) - mx - log_sum;
      total += (1.0 - eps) * nll + eps * sum_neg_logp / static_cast<double>(k);
    }
    if (dlogits) {
      float* g = dlogits->f32() + i * k;
      for (int64_t j = 0; j < k; ++j) {
        const double prob = std::exp(static_cast<double>(row[j]) - mx - log_sum);
        double target = j == label ? on : off;
        if (labels_b) target = lam * target + (1.0 - lam) * (j == other ? on : off);
        g[j] = static_cast<float>((prob - target) / static_cast<double>(n) * scale);
      }
    }
  }
  if (n > 0) loss_sum.f32()[0] += static_cast<float>(total / static_cast<double>(n));
  correct.i32()[0] += hits;
}

}  // namespace

void softmax_cross_entropy(Context&, const Tensor& logits, const Tensor& labels, float smoothing,
                           const float* grad_scale, const Tensor* dlogits, const Tensor& loss_sum,
                           const Tensor& correct) {
  cross_entropy_rows(logits, labels.i32(), nullptr, nullptr, smoothing, grad_scale, dlogits,
                     loss_sum, correct);
}

void mixed_softmax_cross_entropy(Context&, const Tensor& logits, const Tensor& labels,
                                 const float* lambda, float smoothing, const float* grad_scale,
                                 const Tensor* dlogits, const Tensor& loss_sum,
                                 const Tensor& correct) {
  cross_entropy_rows(logits, labels.i32(), labels.i32() + logits.shape[0], lambda, smoothing,
                     grad_scale, dlogits, loss_sum, correct);
}

void argmax_rows(Context&, const Tensor& logits, const Tensor& predictions) {
  const int64_t n = logits.shape[0], k = logits.shape[1];
  for (int64_t i = 0; i < n; ++i) {
    const float* row = logits.f32() + i * k;
    int64_t best = 0;
    for (int64_t j = 1; j < k; ++j)
      if (row[j] > row[best]) best = j;
    predictions.i32()[i] = static_cast<int32_t>(best);
  }
}

}  // namespace cnne::cpu
