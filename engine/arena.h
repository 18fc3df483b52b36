#pragma once
// Arena: plan first, allocate once (DESIGN principle 2, llm.c's pattern).
// `reserve` hands out aligned offsets while planning; `allocate` makes one
// Buffer for everything; `view` turns an offset into a Tensor.
#include <cstddef>

#include "engine/buffer.h"
#include "engine/tensor.h"

namespace cnne {

class Arena {
 public:
  static constexpr size_t kAlignment = 256;  // cuDNN and vector loads like 256-byte bases

  // Returns the byte offset of a new region of `bytes`; only before allocate().
  size_t reserve(size_t bytes);
  // Allocates the planned size on `device`.
  void allocate(Device device);
  bool allocated() const { return buffer_.data() != nullptr || planned_ == 0; }

  Tensor view(size_t offset, Shape shape, DType dtype = DType::F32) const;
  size_t planned_bytes() const { return planned_; }
  Device device() const { return buffer_.device(); }
  void* base() const { return buffer_.data(); }

 private:
  size_t planned_ = 0;
  bool frozen_ = false;
  Buffer buffer_;
};

}  // namespace cnne
