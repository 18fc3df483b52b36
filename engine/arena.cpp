#include "engine/arena.h"

#include <string>

#include "engine/error.h"

namespace cnne {

size_t Arena::reserve(size_t bytes) {
  if (frozen_) throw Error("Arena::reserve after allocate");
  size_t offset = planned_;
  planned_ += (bytes + kAlignment - 1) / kAlignment * kAlignment;
  return offset;
}

void Arena::allocate(Device device) {
  if (frozen_) throw Error("Arena::allocate called twice");
  buffer_ = Buffer(device, planned_);
  frozen_ = true;
}

Tensor Arena::view(size_t offset, Shape shape, DType dtype) const {
  if (!frozen_) throw Error("Arena::view before allocate");
  size_t bytes = static_cast<size_t>(shape.numel()) * dtype_size(dtype);
  if (offset + bytes > planned_)
    throw Error("Arena::view: " + shape.str() + " at offset " + std::to_string(offset) +
                " exceeds the arena of " + std::to_string(planned_) + " bytes");
  Tensor t;
  t.data = static_cast<char*>(buffer_.data()) + offset;
  t.shape = shape;
  t.dtype = dtype;
  t.device = buffer_.device();
  return t;
}

}  // namespace cnne
