#pragma once
// The memory geometry of ops::copy_channels (a channel range of one tensor
// into a channel range of another, per image: a concatenation's forward and
// its backward's slices), as a 2-D copy of `rows` rows of `row_bytes` each:
//   NCHW (N, C, H, W): a row per image, c * H * W contiguous elements
//   NHWC (Note [channels last]): a row per pixel, c contiguous elements
//   (N, F): a row per image, c contiguous features
// The CPU runs it as memcpy per row, the GPU as one cudaMemcpy2DAsync.
#include <cstddef>
#include <cstdint>
#include <string>

#include "engine/error.h"
#include "engine/tensor.h"

namespace cnne {

struct ChannelCopy {
  size_t rows = 0, row_bytes = 0;
  size_t src_pitch = 0, dst_pitch = 0;    // bytes from one row to the next
  size_t src_offset = 0, dst_offset = 0;  // bytes to the first row's first element
};

// Throws Error naming the shapes where src and dst disagree on dtype, layout,
// batch or pixels, or a range falls outside its tensor.
inline ChannelCopy channel_copy(const Tensor& src, int64_t src_first, const Tensor& dst,
                                int64_t dst_first, int64_t channels) {
  const auto what = [&] {  // built only for an error: this runs in every training step
    return "copy_channels " + src.shape.str() + " [" + std::to_string(src_first) + ", +" +
           std::to_string(channels) + ") -> " + dst.shape.str() + " [" + std::to_string(dst_first) +
           ", ...)";
  };
  const int r = src.shape.rank();
  const bool nhwc = r == 4 && src.channels_last && src.shape[2] * src.shape[3] > 1;
  const bool dst_nhwc = r == 4 && dst.channels_last && dst.shape[2] * dst.shape[3] > 1;
  if ((r != 2 && r != 4) || dst.shape.rank() != r || src.dtype != dst.dtype || nhwc != dst_nhwc ||
      src.shape[0] != dst.shape[0] ||
      (r == 4 && (src.shape[2] != dst.shape[2] || src.shape[3] != dst.shape[3])))
    throw Error(what() + ": expected tensors of one dtype and layout, alike but for dim 1");
  if (channels < 0 || src_first < 0 || dst_first < 0 || src_first + channels > src.shape[1] ||
      dst_first + channels > dst.shape[1])
    throw Error(what() + ": channel range outside a tensor");
  const size_t e = dtype_size(src.dtype);
  const int64_t pixels = r == 4 ? src.shape[2] * src.shape[3] : 1;
  ChannelCopy c;
  if (nhwc) {
    c.rows = static_cast<size_t>(src.shape[0] * pixels);
    c.row_bytes = static_cast<size_t>(channels) * e;
    c.src_pitch = static_cast<size_t>(src.shape[1]) * e;
    c.dst_pitch = static_cast<size_t>(dst.shape[1]) * e;
    c.src_offset = static_cast<size_t>(src_first) * e;
    c.dst_offset = static_cast<size_t>(dst_first) * e;
  } else {
    c.rows = static_cast<size_t>(src.shape[0]);
    c.row_bytes = static_cast<size_t>(channels * pixels) * e;
    c.src_pitch = static_cast<size_t>(src.shape[1] * pixels) * e;
    c.dst_pitch = static_cast<size_t>(dst.shape[1] * pixels) * e;
    c.src_offset = static_cast<size_t>(src_first * pixels) * e;
    c.dst_offset = static_cast<size_t>(dst_first * pixels) * e;
  }
  return c;
}

}  // namespace cnne
