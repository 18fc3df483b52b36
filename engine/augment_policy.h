#pragma once
// Note [augmentation policies]: data.augment.policy, torchvision's automatic
// augmentations (torchvision.transforms.autoaugment, 0.14):
//   TrivialAugmentWide: one op per image, uniform over the 14 ops below
//     (Identity .. Equalize), its magnitude uniform over the op's bins (31);
//   RandAugment(num_ops, magnitude, num_magnitude_bins): num_ops ops in a row,
//     each uniform over the 14, at the fixed magnitude bin;
//   AutoAugment(policy): one of the policy's 25 sub-policies, uniformly; each
//     of its two ops applied with its probability, at its magnitude bin of 10.
// A signed op's magnitude is negated with probability 1/2. Each op is
// _apply_op on a uint8 image tensor (torchvision's tensor backend, not PIL:
// the two round differently), nearest interpolation, fill 0; the PyTorch
// fixture tests/fixtures/augment_policy.safetensors (tools/make_policy_fixtures.py)
// holds every op at several magnitudes.
//
// Where: after the random flip and crop (their zero padding is part of the
// image the op sees, as in Compose([RandomCrop(32, 4), RandomHorizontalFlip(),
// TrivialAugmentWide(), ToTensor(), Normalize(...)])), before normalization,
// cutout and mixing. ops::augment_policy writes the batch's augmented bytes
// (n, C, H, W) into a staging buffer; ops::assemble_batch then normalizes
// them (BatchAugment::staged). The draws are stateless, from the epoch's key
// and the image's position (Note [stateless augmentation draws]), so the CPU
// and the GPU augment alike and a resumed run as an uninterrupted one.
//
// Every op is one of three kinds, each a pure function shared by the CPU
// reference and the GPU kernel (one block per image, the image in shared
// memory): a geometric op reads one source pixel through the inverse affine
// map; a per-channel table (AutoContrast, Equalize) is built from the
// channel's histogram; the rest read the pixel (and, for Color its other
// channels, for Sharpness its 3x3 neighbourhood, for Contrast the image's
// mean grayscale). The float arithmetic is torchvision's, op by op, in fp32
// without contraction on both backends (the inverse affine matrix comes from
// the host, made in double as torchvision's Python makes it), so the bytes
// are the fixture's exactly: every op, both image sizes, every case.
#include <cstdint>

#include "engine/host_device.h"
#include "layers/dropout_mask.h"

namespace cnne {

enum PolicyOp : int32_t {
  kPolicyIdentity = 0,
  kPolicyShearX,
  kPolicyShearY,
  kPolicyTranslateX,
  kPolicyTranslateY,
  kPolicyRotate,
  kPolicyBrightness,
  kPolicyColor,
  kPolicyContrast,
  kPolicySharpness,
  kPolicyPosterize,
  kPolicySolarize,
  kPolicyAutoContrast,
  kPolicyEqualize,
  kPolicyInvert,  // AutoAugment's only
  kPolicyOpCount
};
constexpr int kPolicyWideOps = 14;  // TrivialAugmentWide's and RandAugment's: Identity .. Equalize

enum PolicyKind : int32_t { kNoPolicy = 0, kTrivialAugmentWide, kRandAugment, kAutoAugment };

// The largest image an op works on in one GPU block's shared memory (two
// copies), and the ops a RandAugment may chain.
constexpr int kPolicyMaxImageBytes = 3 * 64 * 64;
constexpr int kPolicyMaxOps = 8;
constexpr int kAutoAugmentSubPolicies = 25;

// One op at one magnitude, ready for the pixels (made on the host by
// make_policy_op, engine/augment_policy_table.h).
struct PolicyOpParams {
  int32_t op = kPolicyIdentity;
  // geometric: the output pixel (x, y) samples the grid point
  //   gx = bx * m[0] + by * m[1] + m[2],  gy = bx * m[3] + by * m[4] + m[5]
  // with bx = x - (W - 1) / 2, by = y - (H - 1) / 2 (torchvision's affine
  // grid with the matrix already divided by W / 2 and H / 2);
  // blends (Brightness, Color, Contrast, Sharpness): m[0] = float(ratio),
  // m[1] = float(1 - ratio); Solarize: m[0] = the threshold
  float m[6] = {0, 0, 0, 0, 0, 0};
  int32_t keep_mask = 0xff;  // Posterize: the bits kept
};

// AutoAugment's sub-policy step: op, probability, magnitude bin (-1: none).
struct PolicyStep {
  int32_t op;
  float probability;
  int32_t bin;
};

// What ops::augment_policy needs on the device: the policy, the ops table
// (op, bin, sign) -> params, AutoAugment's steps.
struct PolicySource {
  int32_t kind = kNoPolicy;
  int32_t num_ops = 0;                  // RandAugment
  int32_t magnitude = 0;                // RandAugment's bin
  int32_t bins = 0;                     // magnitude bins of the table
  const PolicyOpParams* ops = nullptr;  // (kPolicyOpCount, bins, 2): [op][bin][negative]
  const PolicyStep* steps = nullptr;    // (kAutoAugmentSubPolicies, 2)
};

CNNE_HOST_DEVICE inline const PolicyOpParams& policy_entry(const PolicySource& s, int op, int bin,
                                                           bool negative) {
  return s.ops[(op * s.bins + bin) * 2 + (negative ? 1 : 0)];
}

CNNE_HOST_DEVICE inline bool policy_op_signed(int op) {
  return op >= kPolicyShearX && op <= kPolicySharpness;
}
CNNE_HOST_DEVICE inline bool policy_op_has_magnitude(int op) {
  return op >= kPolicyShearX && op <= kPolicySolarize;
}

// The ops image `position` of the epoch with key `key` gets, in order.
struct PolicyDraw {
  int count = 0;
  const PolicyOpParams* ops[kPolicyMaxOps] = {};
};

// Its own key, so crops, flips and cutout draw as without a policy.
constexpr uint64_t kPolicySalt = 0x510e527fade682d1ULL;

// int(u * n) for u uniform in [0, 1), kept below n.
CNNE_HOST_DEVICE inline int uniform_below(float u, int n) {
  const int v = static_cast<int>(u * static_cast<float>(n));
  return v < n ? v : n - 1;
}

CNNE_HOST_DEVICE inline PolicyDraw draw_policy(const PolicySource& s, uint64_t key,
                                               int64_t position) {
  PolicyDraw d;
  const uint64_t k = key ^ kPolicySalt;
  const uint64_t base = static_cast<uint64_t>(position) * 32;
  const auto u = [&](int j) { return dropout_uniform(k, base + static_cast<uint64_t>(j)); };
  if (s.kind == kAutoAugment) {
    const int sub = uniform_below(u(0), kAutoAugmentSubPolicies);
    for (int i = 0; i < 2; ++i) {
      const PolicyStep& step = s.steps[sub * 2 + i];
      // torchvision: probs[i] <= p with probs ~ U[0, 1); signs[i] == 0 negates
      if (u(1 + i) > step.probability) continue;
      const bool negative = policy_op_signed(step.op) && u(3 + i) < 0.5f;
      d.ops[d.count++] = &policy_entry(s, step.op, step.bin < 0 ? 0 : step.bin, negative);
    }
    return d;
  }
  const int n = s.kind == kRandAugment ? s.num_ops : 1;
  for (int i = 0; i < n && i < kPolicyMaxOps; ++i) {
    const int op = uniform_below(u(3 * i), kPolicyWideOps);
    int bin = 0;
    if (policy_op_has_magnitude(op))
      bin = s.kind == kRandAugment ? s.magnitude : uniform_below(u(3 * i + 1), s.bins);
    const bool negative = policy_op_signed(op) && u(3 * i + 2) < 0.5f;
    d.ops[d.count++] = &policy_entry(s, op, bin, negative);
  }
  return d;
}

// ---- the pixel arithmetic (fp32, each operation rounded: no contraction)
CNNE_HOST_DEVICE inline float policy_mul(float a, float b) {
#ifdef __CUDA_ARCH__
  return __fmul_rn(a, b);
#else
  return a * b;
#endif
}
CNNE_HOST_DEVICE inline float policy_add(float a, float b) {
#ifdef __CUDA_ARCH__
  return __fadd_rn(a, b);
#else
  return a + b;
#endif
}

// torchvision's `.clamp(0, 255).to(torch.uint8)`: truncation toward zero.
CNNE_HOST_DEVICE inline uint8_t clamp_to_byte(float v) {
  if (!(v > 0.0f)) return 0;  // NaN too
  if (v >= 255.0f) return 255;
  return static_cast<uint8_t>(v);
}

// _blend: ratio * img1 + (1 - ratio) * img2, each product rounded.
CNNE_HOST_DEVICE inline uint8_t policy_blend(const PolicyOpParams& o, float own, float other) {
  return clamp_to_byte(policy_add(policy_mul(o.m[0], own), policy_mul(o.m[1], other)));
}

// rgb_to_grayscale of pixel p (the planes hw apart): (0.2989 r + 0.587 g + 0.114 b).to(uint8).
CNNE_HOST_DEVICE inline int policy_gray(const uint8_t* img, int channels, int hw, int p) {
  if (channels != 3) return img[p];
  const float r = img[p], g = img[hw + p], b = img[2 * hw + p];
  const float sum =
      policy_add(policy_add(policy_mul(0.2989f, r), policy_mul(0.587f, g)), policy_mul(0.114f, b));
  return clamp_to_byte(sum);
}

// round-half-even, as torch.round and grid_sample's nearest do.
CNNE_HOST_DEVICE inline float round_half_even(float v) {
#ifdef __CUDA_ARCH__
  return rintf(v);
#else
  return __builtin_rintf(v);  // the default rounding mode: to nearest, ties to even
#endif
}

// The source pixel (y * W + x) a geometric op samples for output (y, x), or -1
// for the fill. The grid point as an FMA sgemm kernel sums it (the first
// product, a fused multiply-add, then the constant; PyTorch's bmm on the CPU
// goes to BLAS, and the fixture's shears and rotations come out the same with
// plain products too), then grid_sample's unnormalization
// (g + 1) * (size / 2) - 0.5 (align_corners false) and nearest, ties to even.
CNNE_HOST_DEVICE inline int policy_source_pixel(const PolicyOpParams& o, int height, int width,
                                                int y, int x) {
  const float bx = static_cast<float>(x) - 0.5f * static_cast<float>(width - 1);
  const float by = static_cast<float>(y) - 0.5f * static_cast<float>(height - 1);
#ifdef __CUDA_ARCH__
  const float gx = __fadd_rn(__fmaf_rn(by, o.m[1], __fmul_rn(bx, o.m[0])), o.m[2]);
  const float gy = __fadd_rn(__fmaf_rn(by, o.m[4], __fmul_rn(bx, o.m[3])), o.m[5]);
#else
  const float gx = __builtin_fmaf(by, o.m[1], bx * o.m[0]) + o.m[2];
  const float gy = __builtin_fmaf(by, o.m[4], bx * o.m[3]) + o.m[5];
#endif
  const float half_w = 0.5f * static_cast<float>(width), half_h = 0.5f * static_cast<float>(height);
  const float ix = round_half_even(policy_add(policy_mul(policy_add(gx, 1.0f), half_w), -0.5f));
  const float iy = round_half_even(policy_add(policy_mul(policy_add(gy, 1.0f), half_h), -0.5f));
  if (!(ix >= 0.0f && ix < static_cast<float>(width) && iy >= 0.0f &&
        iy < static_cast<float>(height)))
    return -1;
  return static_cast<int>(iy) * width + static_cast<int>(ix);
}

CNNE_HOST_DEVICE inline bool policy_op_geometric(int op) {
  return op >= kPolicyShearX && op <= kPolicyRotate;
}
// Whether op needs its channels' histograms (AutoContrast, Equalize) or the
// image's grayscale sum (Contrast) before its pixels.
CNNE_HOST_DEVICE inline bool policy_op_uses_table(int op) {
  return op == kPolicyAutoContrast || op == kPolicyEqualize;
}
CNNE_HOST_DEVICE inline bool policy_op_needs_mean(int op) {
  return op == kPolicyContrast;
}

// The per-channel table of AutoContrast or Equalize from the channel's
// histogram hist (256 counts) into table (256 bytes).
CNNE_HOST_DEVICE inline void policy_channel_table(int op, const int32_t* hist, uint8_t* table) {
  int lo = 0, hi = 255;
  while (lo < 255 && hist[lo] == 0) ++lo;
  while (hi > 0 && hist[hi] == 0) --hi;
  if (op == kPolicyAutoContrast) {
    // (img - min) * (255 / (max - min)), clamped and truncated; max == min: unchanged
    if (hi <= lo) {
      for (int v = 0; v < 256; ++v) table[v] = static_cast<uint8_t>(v);
      return;
    }
    const float lo_f = static_cast<float>(lo);
    const float scale = 255.0f / (static_cast<float>(hi) - lo_f);
    for (int v = 0; v < 256; ++v)
      table[v] = clamp_to_byte(policy_mul(static_cast<float>(v) - lo_f, scale));
    return;
  }
  // _scale_channel: step = (count - count of the brightest value) // 255;
  // table[v] = (cumsum(hist)[v - 1] + step // 2) // step, table[0] = 0
  int64_t total = 0;
  for (int v = 0; v < 256; ++v) total += hist[v];
  const int64_t step = (total - hist[hi]) / 255;
  if (step == 0) {
    for (int v = 0; v < 256; ++v) table[v] = static_cast<uint8_t>(v);
    return;
  }
  int64_t cumulative = 0;
  for (int v = 0; v < 256; ++v) {
    const int64_t t = (cumulative + step / 2) / step;
    table[v] = static_cast<uint8_t>(t > 255 ? 255 : t);
    cumulative += hist[v];
  }
}

// Output byte p = (ch, y, x) of op o on img (C, H, W); tables (C, 256) for
// AutoContrast and Equalize, mean the grayscale mean for Contrast.
CNNE_HOST_DEVICE inline uint8_t policy_pixel(const PolicyOpParams& o, const uint8_t* img,
                                             int channels, int height, int width,
                                             const uint8_t* tables, float mean, int p) {
  const int hw = height * width;
  const int ch = p / hw, q = p % hw;
  const uint8_t v = img[p];
  switch (o.op) {
    case kPolicyShearX:
    case kPolicyShearY:
    case kPolicyTranslateX:
    case kPolicyTranslateY:
    case kPolicyRotate: {
      const int src = policy_source_pixel(o, height, width, q / width, q % width);
      return src < 0 ? 0 : img[ch * hw + src];
    }
    case kPolicyBrightness:
      return policy_blend(o, v, 0.0f);
    case kPolicyColor:
      if (channels != 3) return v;
      return policy_blend(o, v, static_cast<float>(policy_gray(img, channels, hw, q)));
    case kPolicyContrast:
      return policy_blend(o, v, mean);
    case kPolicySharpness: {
      const int y = q / width, x = q % width;
      if (height <= 2 || width <= 2) return v;  // torchvision returns such images unchanged
      // the border keeps its pixels in the blurred image, but is blended all the same
      if (y == 0 || x == 0 || y == height - 1 || x == width - 1) return policy_blend(o, v, v);
      // the 3x3 kernel [1 1 1; 1 5 1; 1 1 1] / 13, rounded: (sum + 6) / 13 exactly,
      // as sum / 13 is never within 1/26 of a half
      const uint8_t* plane = img + ch * hw;
      int sum = 4 * v;
      for (int dy = -1; dy <= 1; ++dy)
        for (int dx = -1; dx <= 1; ++dx) sum += plane[(y + dy) * width + x + dx];
      return policy_blend(o, v, static_cast<float>((sum + 6) / 13));
    }
    case kPolicyPosterize:
      return static_cast<uint8_t>(v & o.keep_mask);
    case kPolicySolarize:
      return static_cast<float>(v) >= o.m[0] ? static_cast<uint8_t>(255 - v) : v;
    case kPolicyAutoContrast:
    case kPolicyEqualize:
      return tables[ch * 256 + v];
    case kPolicyInvert:
      return static_cast<uint8_t>(255 - v);
    default:
      return v;
  }
}

}  // namespace cnne
