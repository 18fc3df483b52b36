#include "engine/buffer.h"

#include <cstdlib>
#include <cstring>
#include <new>
#include <string>
#include <utility>

#include "engine/error.h"
#ifdef CNNE_WITH_CUDA
#include "cuda/device_memory.h"
#endif

namespace cnne {
namespace {

constexpr size_t kHostAlignment = 64;

void* allocate(Device device, size_t bytes) {
  if (bytes == 0) return nullptr;
  if (device == Device::CPU) {
    size_t rounded = (bytes + kHostAlignment - 1) / kHostAlignment * kHostAlignment;
    void* p = std::aligned_alloc(kHostAlignment, rounded);
    if (!p) throw DeviceError("host out of memory: asked for " + std::to_string(bytes) + " bytes");
    return p;
  }
#ifdef CNNE_WITH_CUDA
  return cuda::device_malloc(bytes);
#else
  throw DeviceError("this cnnengine was built without CUDA; use --device cpu");
#endif
}

void deallocate(Device device, void* p) noexcept {
  if (!p) return;
  if (device == Device::CPU) {
    std::free(p);
    return;
  }
#ifdef CNNE_WITH_CUDA
  cuda::device_free(p);
#endif
}

}  // namespace

Buffer::Buffer(Device device, size_t bytes)
    : data_(allocate(device, bytes)), bytes_(bytes), device_(device) {}

Buffer::~Buffer() {
  release();
}

Buffer::Buffer(Buffer&& other) noexcept
    : data_(std::exchange(other.data_, nullptr)),
      bytes_(std::exchange(other.bytes_, 0)),
      device_(other.device_) {}

Buffer& Buffer::operator=(Buffer&& other) noexcept {
  if (this != &other) {
    release();
    data_ = std::exchange(other.data_, nullptr);
    bytes_ = std::exchange(other.bytes_, 0);
    device_ = other.device_;
  }
  return *this;
}

void Buffer::release() noexcept {
  deallocate(device_, data_);
  data_ = nullptr;
  bytes_ = 0;
}

void copy_tensor(const Tensor& src, const Tensor& dst) {
  if (src.bytes() != dst.bytes())
    throw Error("copy_tensor: " + src.shape.str() + " " + dtype_name(src.dtype) + " into " +
                dst.shape.str() + " " + dtype_name(dst.dtype));
  if (src.bytes() == 0) return;
  if (src.device == Device::CPU && dst.device == Device::CPU) {
    std::memcpy(dst.data, src.data, src.bytes());
    return;
  }
#ifdef CNNE_WITH_CUDA
  cuda::copy_blocking(dst.data, src.data, src.bytes());
#else
  throw DeviceError("this cnnengine was built without CUDA; use --device cpu");
#endif
}

}  // namespace cnne
