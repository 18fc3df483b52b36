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

struct Tensor {
  void* data = nullptr;
  Shape shape;
  DType dtype = DType::F32;
  Device device = Device::CPU;

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
  // The same memory seen with another shape of equal element count.
  Tensor reshaped(Shape s) const;
  // Elements [begin, end) of the tensor's memory, as a flat (end - begin) view.
  Tensor slice(int64_t begin, int64_t end) const;
};

}  // namespace cnne
