#include "cuda/handles.h"

#include "cuda/device_memory.h"

namespace cnne::cuda {

PinnedBuffer::PinnedBuffer(size_t bytes) : data_(pinned_malloc(bytes)), bytes_(bytes) {}

PinnedBuffer::~PinnedBuffer() {
  pinned_free(data_);
}

PinnedBuffer& PinnedBuffer::operator=(PinnedBuffer&& o) noexcept {
  if (this != &o) {
    pinned_free(data_);
    data_ = std::exchange(o.data_, nullptr);
    bytes_ = std::exchange(o.bytes_, 0);
  }
  return *this;
}

}  // namespace cnne::cuda
