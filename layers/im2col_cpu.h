#pragma once
// im2col / col2im for one image, the CPU convolution's lowering to GEMM.
// x: (C, H, W)   col: (C*R*S, P*Q)
#include <cstdint>

#include "engine/ops.h"

namespace cnne::cpu {

struct ConvGeometry {
  int64_t c, h, w;  // input channels of one group (all of them when groups = 1) and size
  int64_t r, s;     // kernel size
  int64_t p, q;     // output size
  Conv2dParams params;

  int64_t col_rows() const { return c * r * s; }
  int64_t col_cols() const { return p * q; }
  // A 1x1, stride-1, unpadded convolution reads x directly as its col matrix.
  bool is_pointwise() const;
};

// x (N, C, H, W), w (K, C / groups, R, S): the geometry of one group's im2col.
ConvGeometry conv_geometry(const Conv2dParams& p, const Shape& x, const Shape& w);

// col (C*R*S, P*Q) <- x (C, H, W), zeros where the window reads padding
void im2col(const ConvGeometry& g, const float* x, float* col);
// dx (C, H, W) <- sum of col (C*R*S, P*Q) over every window that read each pixel (assigns)
void col2im(const ConvGeometry& g, const float* col, float* dx);

}  // namespace cnne::cpu
