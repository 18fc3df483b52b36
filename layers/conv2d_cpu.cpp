// Conv2d, CPU reference: im2col + GEMM per image and group, bias sums in double.

#include <algorithm>

#include "engine/cpu_gemm.h"
#include "engine/error.h"
#include "engine/ops.h"
#include "layers/im2col_cpu.h"
#include "layers/relu_math.h"

namespace cnne::cpu {

namespace {

// Images per part: one image's convolution is a GEMM of at least thousands of
// multiply-adds, worth a thread.
constexpr int64_t kImagesPerPart = 1;

size_t col_floats(const ConvGeometry& g) {
  return g.is_pointwise() ? 0 : static_cast<size_t>(g.col_rows() * g.col_cols());
}

// The workspace of a call whose images are split into `parts`: one im2col
// matrix per part, then one partial dw per part after the first (for the
// weight gradient; the other calls leave them unused).
struct ConvScratch {
  float* col;      // (parts, C*R*S, P*Q), or null for a pointwise convolution
  float* partial;  // (parts - 1, K, C*R*S)
};

size_t scratch_bytes(const ConvGeometry& g, int parts, int64_t k) {
  return sizeof(float) * (col_floats(g) * static_cast<size_t>(parts) +
                          static_cast<size_t>(k * g.col_rows()) * static_cast<size_t>(parts - 1));
}

ConvScratch conv_scratch(Context& ctx, const ConvGeometry& g, int parts, int64_t k) {
  const size_t need = scratch_bytes(g, parts, k);
  if (ctx.workspace_bytes() < need)
    throw Error("conv2d: workspace of " + std::to_string(ctx.workspace_bytes()) + " bytes, needs " +
                std::to_string(need) + " (was setup skipped?)");
  float* base = static_cast<float*>(ctx.workspace());
  return {col_floats(g) ? base : nullptr, base + col_floats(g) * static_cast<size_t>(parts)};
}

// Group gi of an image reads input channels [gi * c, (gi + 1) * c) and writes
// output channels [gi * kg, (gi + 1) * kg) with weight rows of the same range.
struct Groups {
  int64_t count, kg;  // groups, output channels per group
};

Groups groups_of(const Conv2dParams& p, const Shape& x, const Shape& w) {
  if (!conv_groups_fit(p, x, w))
    throw Error("conv2d: x " + x.str() + " and w " + w.str() +
                " do not fit groups = " + std::to_string(p.groups));
  return {p.groups, w[0] / p.groups};
}

}  // namespace

size_t conv2d_workspace_bytes(Context& ctx, const Conv2dParams& p, const Shape& x, const Shape& w,
                              DType) {
  return scratch_bytes(conv_geometry(p, x, w), ctx.parallel_parts(x[0], kImagesPerPart), w[0]);
}

void conv2d_forward(Context& ctx, const Conv2dParams& p, const Tensor& x, const Tensor& w,
                    const Tensor* b, FusedActivation act, const Tensor& y) {
  const ConvGeometry g = conv_geometry(p, x.shape, w.shape);
  const Groups groups = groups_of(p, x.shape, w.shape);
  const int64_t n = x.shape[0], k = w.shape[0];
  const int64_t group_in = g.c * g.h * g.w, group_out = groups.kg * g.p * g.q;
  const int64_t in_stride = groups.count * group_in, out_stride = k * g.p * g.q;
  const ConvScratch scratch = conv_scratch(ctx, g, ctx.parallel_parts(n, kImagesPerPart), k);
  const float* xd = x.f32();
  float* yd = y.f32();
  ctx.parallel(n, kImagesPerPart, [&](int part, int64_t begin, int64_t end) {
    float* col = scratch.col ? scratch.col + col_floats(g) * part : nullptr;
    for (int64_t i = begin; i < end; ++i) {
      float* yi = yd + i * out_stride;  // yi: (K, P*Q)
      if (b) {
        const float* bd = b->f32();
        for (int64_t kk = 0; kk < k; ++kk)
          for (int64_t j = 0; j < g.p * g.q; ++j) yi[kk * g.p * g.q + j] = bd[kk];
      }
      for (int64_t gi = 0; gi < groups.count; ++gi) {
        const float* xg = xd + i * in_stride + gi * group_in;  // (c, H, W)
        if (col) im2col(g, xg, col);
        const float* a = col ? col : xg;  // (c*R*S, P*Q)
        // yg (kg, P*Q) (+)= wg (kg, c*R*S) * a
        gemm(Trans::No, Trans::No, groups.kg, g.col_cols(), g.col_rows(), 1.0f,
             w.f32() + gi * groups.kg * g.col_rows(), g.col_rows(), a, g.col_cols(),
             b ? 1.0f : 0.0f, yi + gi * group_out, g.col_cols());
      }
      if (act == FusedActivation::kRelu) relu_in_place(yi, out_stride);  // while yi is in cache
    }
  });
}

void conv2d_backward_data(Context& ctx, const Conv2dParams& p, const Tensor& w, const Tensor& dy,
                          const Tensor& dx) {
  const ConvGeometry g = conv_geometry(p, dx.shape, w.shape);
  const Groups groups = groups_of(p, dx.shape, w.shape);
  const int64_t n = dx.shape[0], k = w.shape[0];
  const int64_t group_in = g.c * g.h * g.w, group_out = groups.kg * g.p * g.q;
  const int64_t in_stride = groups.count * group_in, out_stride = k * g.p * g.q;
  const ConvScratch scratch = conv_scratch(ctx, g, ctx.parallel_parts(n, kImagesPerPart), k);
  ctx.parallel(n, kImagesPerPart, [&](int part, int64_t begin, int64_t end) {
    float* col = scratch.col ? scratch.col + col_floats(g) * part : nullptr;
    for (int64_t i = begin; i < end; ++i)
      for (int64_t gi = 0; gi < groups.count; ++gi) {
        float* dxg = dx.f32() + i * in_stride + gi * group_in;          // (c, H, W)
        const float* dyg = dy.f32() + i * out_stride + gi * group_out;  // (kg, P*Q)
        // dcol (c*R*S, P*Q) = wg^T (c*R*S, kg) * dyg (kg, P*Q)
        gemm(Trans::Yes, Trans::No, g.col_rows(), g.col_cols(), groups.kg, 1.0f,
             w.f32() + gi * groups.kg * g.col_rows(), g.col_rows(), dyg, g.col_cols(), 0.0f,
             col ? col : dxg, g.col_cols());
        if (col) col2im(g, col, dxg);
      }
  });
}

void conv2d_backward_filter(Context& ctx, const Conv2dParams& p, const Tensor& x, const Tensor& dy,
                            const Tensor& dw) {
  const ConvGeometry g = conv_geometry(p, x.shape, dw.shape);
  const Groups groups = groups_of(p, x.shape, dw.shape);
  const int64_t n = x.shape[0], k = dw.shape[0];
  if (n == 0) {
    fill(ctx, dw, 0.0f);
    return;
  }
  const int64_t group_in = g.c * g.h * g.w, group_out = groups.kg * g.p * g.q;
  const int64_t in_stride = groups.count * group_in, out_stride = k * g.p * g.q;
  const int64_t dw_size = k * g.col_rows();
  const int parts = ctx.parallel_parts(n, kImagesPerPart);
  const ConvScratch scratch = conv_scratch(ctx, g, parts, k);
  // Part 0 sums its images into dw, part j > 0 into partial j - 1 (Note [CPU threads]).
  ctx.parallel(n, kImagesPerPart, [&](int part, int64_t begin, int64_t end) {
    float* col = scratch.col ? scratch.col + col_floats(g) * part : nullptr;
    float* sum = part == 0 ? dw.f32() : scratch.partial + (part - 1) * dw_size;  // (K, c*R*S)
    for (int64_t i = begin; i < end; ++i)
      for (int64_t gi = 0; gi < groups.count; ++gi) {
        const float* xg = x.f32() + i * in_stride + gi * group_in;  // (c, H, W)
        if (col) im2col(g, xg, col);
        // sum's rows of group gi (kg, c*R*S) (+)= dy_i's (kg, P*Q) * col^T (P*Q, c*R*S)
        gemm(Trans::No, Trans::Yes, groups.kg, g.col_rows(), g.col_cols(), 1.0f,
             dy.f32() + i * out_stride + gi * group_out, g.col_cols(), col ? col : xg, g.col_cols(),
             i == begin ? 0.0f : 1.0f, sum + gi * groups.kg * g.col_rows(), g.col_rows());
      }
  });
  if (parts == 1) return;
  // dw += partials, in part order for every element
  ctx.parallel(dw_size, 4096, [&](int, int64_t begin, int64_t end) {
    float* __restrict out = dw.f32();
    for (int j = 0; j + 1 < parts; ++j) {
      const float* __restrict partial = scratch.partial + j * dw_size;
      for (int64_t e = begin; e < end; ++e) out[e] += partial[e];
    }
  });
}

void conv2d_backward_bias(Context& ctx, const Tensor& dy, const Tensor& db) {
  const int64_t n = dy.shape[0], k = dy.shape[1], pq = dy.shape[2] * dy.shape[3];
  const float* d = dy.f32();
  // Each channel's sum on one thread: the same bits for any thread count.
  ctx.parallel(k, grain_for(n * pq), [&](int, int64_t k_begin, int64_t k_end) {
    for (int64_t kk = k_begin; kk < k_end; ++kk) {
      // Eight running sums in double, so the loop vectorizes without
      // reassociating anything the compiler would have to prove.
      double lanes[8] = {};
      double tail = 0.0;
      for (int64_t i = 0; i < n; ++i) {
        const float* plane = d + (i * k + kk) * pq;
        int64_t j = 0;
        for (; j + 8 <= pq; j += 8)
          for (int l = 0; l < 8; ++l) lanes[l] += plane[j + l];
        for (; j < pq; ++j) tail += plane[j];
      }
      double sum = tail;
      for (double lane : lanes) sum += lane;
      db.f32()[kk] = static_cast<float>(sum);
    }
  });
}

}  // namespace cnne::cpu
