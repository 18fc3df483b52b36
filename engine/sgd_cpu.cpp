// SGD over the flat parameter arena, CPU reference. The order of operations
// is PyTorch's torch.optim.SGD (single-tensor path), in float:
//   d = g + wd * p
//   buf = first ? d : momentum * buf + (1 - dampening) * d
//   d = nesterov ? d + momentum * buf : buf
//   p = p - lr * d
#include "engine/ops.h"

namespace cnne::cpu {

void sgd_update(Context&, const SgdHyper& h, bool first_step, const Tensor& params,
                const Tensor& grads, const Tensor& momentum) {
  float* p = params.f32();
  const float* g = grads.f32();
  float* buf = momentum.f32();
  const int64_t n = params.numel();
  for (int64_t i = 0; i < n; ++i) {
    float d = g[i];
    if (h.weight_decay != 0.0f) d = d + h.weight_decay * p[i];
    if (h.momentum != 0.0f) {
      buf[i] = first_step ? d : h.momentum * buf[i] + (1.0f - h.dampening) * d;
      d = h.nesterov ? d + h.momentum * buf[i] : buf[i];
    }
    p[i] = p[i] - h.lr * d;
  }
}

void fill(Context&, const Tensor& t, float value) {
  float* p = t.f32();
  const int64_t n = t.numel();
  for (int64_t i = 0; i < n; ++i) p[i] = value;
}

}  // namespace cnne::cpu
