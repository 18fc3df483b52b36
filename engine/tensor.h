#pragma once
// Tensor is a view: pointer, shape, dtype, device. It owns nothing; Buffer and
// Arena own memory (DESIGN principle 3). Copies between host and device are
// explicit (engine/buffer.h) and live at the edges.
#include <cstddef>
#include <cstdint>

#include "engine/device.h"
#include "engine/shape.h"

namespace cnne {

// BF16 and F16 hold activations in mixed precision (Note [mixed precision]
// in engine/precision.h); parameters, gradients and optimizer state stay F32.
enum class DType { F32, I32, U8, I64, BF16, F16 };

// True for the 16-bit float types.
inline bool is_half(DType t) {
  return t == DType::BF16 || t == DType::F16;
}

size_t dtype_size(DType t);
const char* dtype_name(DType t);  // safetensors spelling: "F32", "I32", "U8", "I64", "BF16", "F16"

// Note [channels last]: a rank-4 tensor's shape is always (N, C, H, W); with
// channels_last its memory is (N, H, W, C) (PyTorch's
// memory_format=torch.channels_last, cuDNN's NHWC), and a conv2d weight
// (K, C, R, S) is stored as (K, R, S, C). Elementwise ops ignore the flag; ops
// that index channels (conv2d, batch norm, global average pooling, batch
// assembly, convert between layouts) honour it; the others refuse it.
struct Tensor {
  void* data = nullptr;
  Shape shape;
  DType dtype = DType::F32;
  Device device = Device::CPU;
  bool channels_last = false;  // Note [channels last]; rank 4 only

  Tensor() = default;
  Tensor(float* p, Shape s, Device d = Device::CPU)
      : data(p), shape(s), dtype(DType::F32), device(d) {}
  Tensor(int32_t* p, Shape s, Device d = Device::CPU)
      : data(p), shape(s), dtype(DType::I32), device(d) {}
  Tensor(uint8_t* p, Shape s, Device d = Device::CPU)
      : data(p), shape(s), dtype(DType::U8), device(d) {}

  int64_t numel() const { return shape.numel(); }
  size_t bytes() const { return static_cast<size_t>(numel()) * dtype_size(dtype); }
  // Typed access; throws if the dtype differs.
  float* f32() const;
  int32_t* i32() const;
  uint8_t* u8() const;
  // The same memory seen with another shape of equal element count (a
  // channels-last tensor only where its layout equals NCHW: H = W = 1).
  Tensor reshaped(Shape s) const;
  // This view with channels_last set as given (where the shape is rank 4 and
  // has more than one pixel; otherwise both layouts are the same memory).
  Tensor with_channels_last(bool on) const;
  // Elements [begin, end) of the tensor's memory, as a flat (end - begin) view.
  Tensor slice(int64_t begin, int64_t end) const;
};

}  // namespace cnne
