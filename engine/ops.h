#pragma once
// The single dispatch point between layers and backends (DESIGN principle 1).
// Layers call ops::xxx(ctx, ...); it routes to cpu::xxx (layers/*_cpu.cpp)
// or cuda::xxx (layers/*_cuda.cpp) by ctx.device().
#include <cstddef>

#include <cmath>

#include "engine/augment_policy.h"
#include "engine/context.h"
#include "engine/host_device.h"
#include "engine/tensor.h"

namespace cnne {

struct Conv2dParams {
  int stride_h = 1, stride_w = 1;
  int pad_h = 0, pad_w = 0;
  // The layout its tensors will have (Note [channels last]), for planning
  // (conv2d_workspace_bytes); the calls read each tensor's own flag.
  bool channels_last = false;
  // Grouped convolution (nn.Conv2d's groups): the C input and K output
  // channels split into `groups` equal parts, part g of y convolving part g
  // of x only; w is then (K, C / groups, R, S). groups = C: depthwise.
  int groups = 1;
  // Dilation (nn.Conv2d's dilation, atrous convolution): kernel tap (r, s)
  // reads input pixel (p * stride_h - pad_h + r * dilation_h, ...); the
  // window spans dilation * (kernel - 1) + 1 pixels.
  int dilation_h = 1, dilation_w = 1;
};

// Whether x (N, C, H, W) and w (K, C / groups, R, S) fit p.groups.
inline bool conv_groups_fit(const Conv2dParams& p, const Shape& x, const Shape& w) {
  return p.groups >= 1 && w[0] % p.groups == 0 && x[1] == w[1] * p.groups;
}

struct Pool2dParams {
  int kernel_h = 2, kernel_w = 2;
  int stride_h = 2, stride_w = 2;
  int pad_h = 0, pad_w = 0;
  // Average pooling: whether the padding counts in the divisor (nn.AvgPool2d's
  // count_include_pad, true by default); false divides by the window's pixels
  // inside the image. Max pooling ignores it.
  bool count_include_pad = true;
};

// What a conv2d or linear forward applies to its output before writing it:
// nothing, or ReLU (a following ReLU layer fused into the producer; see
// Note [ReLU fusion] in engine/network.cpp). ReLU here is the relu op's:
// max(v, 0) with NaN kept, as in PyTorch.
enum class FusedActivation { kNone, kRelu };

// The pointwise activations besides ReLU (layers/activation.h), PyTorch's
// nn.Tanh, Sigmoid, LeakyReLU, ELU, SiLU, GELU (approximate='none' and
// 'tanh'), ReLU6, Hardsigmoid, Hardswish, Mish and SELU; their arithmetic, shared
// by the CPU reference and the GPU kernels, is in layers/activation_math.h.
enum class Activation : int32_t {
  kTanh,
  kSigmoid,
  kLeakyRelu,
  kElu,
  kSilu,
  kGelu,
  kGeluTanh,
  kRelu6,
  kHardsigmoid,
  kHardswish,
  kMish,
  kSelu
};

// Output size of a convolution or pooling window along one axis (floor mode),
// PyTorch's formula; a window of `kernel` taps `dilation` pixels apart. 0 when
// the window is wider than the padded input (C++'s division truncates toward
// zero, so the formula alone would give 1 there).
inline int64_t window_output_size(int64_t in, int64_t kernel, int stride, int pad,
                                  int dilation = 1) {
  const int64_t span = static_cast<int64_t>(dilation) * (kernel - 1) + 1;
  if (in + 2 * pad < span) return 0;
  return (in + 2 * pad - span) / stride + 1;
}

// Note [graph-safe step arguments]: what changes from one training step to
// the next (the batch's position, the learning rate, the first-step flag, the
// dropout key) reaches the ops through a pointer to memory on the context's
// device, not as a value. A captured CUDA graph then replays with each step's
// values: the host writes them (engine/step_args.h) and uploads them before
// launching the graph. On the CPU the pointer is to host memory.

struct SgdHyper {
  float lr = 0.001f;
  float momentum = 0.0f;
  float dampening = 0.0f;
  float weight_decay = 0.0f;  // L2: g += weight_decay * p
  bool nesterov = false;
  float decay_factor = 1.0f;  // decoupled weight decay: p *= 1 - lr * wd first (1 = off)
  int32_t first_step = 0;     // 1 on the first step: momentum = grad
  int64_t step = 1;           // this step's number, from 1 (skipped ones included)
};

// The scalars of one Adam/AdamW step, derived on the host in double and
// rounded to float once, as PyTorch does with its Python-float arguments
// (OptimizerConfig::adam):
//   AdamW:  p *= decay_factor                       (1 - lr * wd)
//   Adam:   g += weight_decay * p                   (L2)
//   m = m * beta1 + g * one_minus_beta1
//   v = v * beta2 + (one_minus_beta2 * g) * g
//   p = p + (-step_size * m) / (sqrt(v) / bias_correction2_sqrt + eps)
struct AdamHyper {
  float beta1 = 0.9f, one_minus_beta1 = 0.1f;
  float beta2 = 0.999f, one_minus_beta2 = 0.001f;
  float step_size = 0.001f;            // lr / (1 - beta1^t)
  float bias_correction2_sqrt = 1.0f;  // sqrt(1 - beta2^t)
  float eps = 1e-8f;
  float weight_decay = 0.0f;  // Adam's L2 term (0 for AdamW)
  float decay_factor = 1.0f;  // AdamW's decoupled decay (1 for Adam)
  // What step_size and bias_correction2_sqrt come from (adam_bias_corrections),
  // for a step count that loss scaling's skipped steps lower on the device.
  double lr = 0.001, beta1_d = 0.9, beta2_d = 0.999;
  int64_t step = 1;  // this step's number, from 1 (skipped ones included)
};

// Adam's step size lr / (1 - beta1^t) and sqrt(1 - beta2^t), in double and
// rounded to float once, as PyTorch computes them from Python floats; shared
// by the host (every step) and the kernels (after skipped steps, Note
// [skipped steps]).
CNNE_HOST_DEVICE inline void adam_bias_corrections(double lr, double beta1, double beta2, int64_t t,
                                                   float* step_size, float* bias_correction2_sqrt) {
  const double step = static_cast<double>(t);
  *step_size = static_cast<float>(lr / (1.0 - pow(beta1, step)));
  *bias_correction2_sqrt = static_cast<float>(sqrt(1.0 - pow(beta2, step)));
}

// AMSGrad's running maximum of the second moment, torch.maximum's: NaN when
// either is NaN (a plain comparison would drop one).
CNNE_HOST_DEVICE inline float nan_max(float a, float b) {
  return (a != a || a > b) ? a : b;
}

// Note [optimizer fused multiply-adds]: PyTorch's CPU kernels (and its CUDA
// ones) round `a.add_(b, alpha=c)` as fma(b, c, a) and
// `a.addcmul_(b, t, value=c)` as fma(c * b, t, a): measured on the Debian
// build the fixtures come from, bit for bit over 10^5 random elements, while
// `addcdiv_` divides and adds apart. RMSprop's centered variance
// (square_avg - grad_avg^2) cancels, so its five-step trajectory follows
// these roundings visibly; RMSprop and Adagrad therefore use them (std::fma
// on the CPU, __fmaf_rn on the GPU: the same bits). SGD and Adam keep their
// unfused products, within the PyTorch fixtures' tolerance.
//
// The scalars of one RMSprop step (torch.optim.RMSprop, single-tensor path),
// rounded to float from the config's doubles as PyTorch rounds its Python
// floats; fma(a, b, c) = a * b + c rounded once:
//   g = fma(p, weight_decay, g)                               (L2)
//   square_avg = fma(one_minus_alpha * g, g, square_avg * alpha)
//   centered:  grad_avg = fma(g, one_minus_alpha, grad_avg * alpha)
//              avg = sqrt(fma(-grad_avg, grad_avg, square_avg)) + eps
//   else:      avg = sqrt(square_avg) + eps
//   momentum > 0:  buf = buf * momentum + g / avg;  p = fma(buf, neg_lr, p)
//   else:          p = p + (neg_lr * g) / avg
struct RmspropHyper {
  float neg_lr = -0.01f;
  float alpha = 0.99f, one_minus_alpha = 0.01f;
  float eps = 1e-8f;
  float weight_decay = 0.0f;
  float momentum = 0.0f;  // a schedule may cycle it (needs the momentum buffer)
};

// The scalars of one Adagrad step (torch.optim.Adagrad, single-tensor path;
// Note [optimizer fused multiply-adds]):
//   g = fma(p, weight_decay, g)                               (L2)
//   sum = fma(g, g, sum)
//   p = p + (neg_clr * g) / (sqrt(sum) + eps)
// with clr = lr / (1 + (t - 1) * lr_decay) at step t, in double and rounded
// once (adagrad_neg_clr), as PyTorch computes it from Python floats.
struct AdagradHyper {
  float neg_clr = -0.01f;
  float eps = 1e-10f;
  float weight_decay = 0.0f;
  // What neg_clr comes from, for a step count that loss scaling's skipped
  // steps lower on the device (Note [skipped steps]).
  double lr = 0.01, lr_decay = 0.0;
  int64_t step = 1;  // this step's number, from 1 (skipped ones included)
};

CNNE_HOST_DEVICE inline float adagrad_neg_clr(double lr, double lr_decay, int64_t t) {
  return static_cast<float>(-(lr / (1.0 + static_cast<double>(t - 1) * lr_decay)));
}

// Dynamic loss scaling for fp16 (PyTorch's GradScaler; Note [mixed
// precision]), kept on the context's device and changed only by kernels, so a
// captured CUDA graph backs off and grows the scale by itself.
struct LossScaleState {
  float scale = 65536.0f;  // what the loss gradient is multiplied by
  int32_t good_steps = 0;  // consecutive steps without a non-finite gradient
  int32_t found_inf = 0;   // this step's non-finite gradient count (the step is skipped)
  int32_t skipped = 0;     // steps skipped so far (the optimizers count steps without them)
};

// The slots of sum_squares' partial sums (the GPU's blocks of its reduction).
inline constexpr int64_t kNormPartials = 256;

// How assemble_batch augments each image (Note [stateless augmentation draws]).
struct BatchAugment {
  int crop_padding = 0;  // RandomCrop(size, padding); 0 = none
  int flip = 0;          // 0 never, 1 with probability 1/2 (RandomHorizontalFlip), 2 always
  int cutout = 0;        // Cutout's square side (engine/augment.h); 0 = none
  // The pixels are the batch itself, image i at row i, already flipped,
  // cropped and through the policy (ops::augment_policy; Note [augmentation
  // policies]); crop_padding and flip are 0 then, cutout still applies.
  int staged = 0;
  // RandomErasing (engine/augment.h, Note [random erasing] in
  // engine/batch_assembly.h): with probability erase_p a rectangle of the
  // image is set to erase_value[channel]; erase_p 0 = none.
  float erase_p = 0;
  double erase_scale_lo = 0, erase_scale_hi = 0;          // the area's fraction of the image
  double erase_log_ratio_lo = 0, erase_log_ratio_hi = 0;  // log of the height / width ratio
  float erase_value[4] = {0, 0, 0, 0};                    // per channel, normalized units
};

// How a batch's images are mixed (engine/mixing.h): image i with image
// (i - 1) mod count, as torch.roll(batch, 1, 0) pairs them.
enum MixMode : int32_t { kNoMix = 0, kMixUp = 1, kCutMix = 2 };

// The per-step part of assemble_batch (see Note [graph-safe step arguments]).
struct BatchArgs {
  int64_t first = 0;  // position in the epoch's order of the batch's first image
  uint64_t key = 0;   // the draws of image p are hash(key, 3p), hash(key, 3p+1), hash(key, 3p+2)
                      // and, for cutout, hash(key ^ kCutoutSalt, 2p), hash(key ^ kCutoutSalt, 2p+1)
                      // (RandomErasing: hash(key ^ kErasingSalt, 41p + m), m < 41)
  // Mixing (engine/mixing.h), drawn on the host per batch:
  int32_t count = 0;          // the batch's images
  int32_t mix_mode = kNoMix;  // MixMode
  float mix_lambda = 1.0f;    // the weight of image i's label in the loss (MixUp: of its pixels)
  float mix_other = 0.0f;     // MixUp: the neighbour's pixels' weight, float(1 - lambda)
  int32_t box_y0 = 0, box_y1 = 0, box_x0 = 0, box_x1 = 0;  // CutMix: taken from the neighbour
};

namespace ops {
#include "engine/op_signatures.inc"
}  // namespace ops

namespace cpu {
#include "engine/op_signatures.inc"
}  // namespace cpu

// The CPU path as ops:: calls it: 16-bit tensors widened around cpu::
// (engine/ops_mixed_cpu.cpp, Note [mixed precision]).
namespace cpu_mixed {
#include "engine/op_signatures.inc"
}  // namespace cpu_mixed

#ifdef CNNE_WITH_CUDA
namespace cuda {
#include "engine/op_signatures.inc"
}  // namespace cuda
#endif

}  // namespace cnne
