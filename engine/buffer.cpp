#include "engine/buffer.h"

#include <atomic>
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

// Per device (index = Device): bytes held now and at most. Process-wide
// statistics, like cudaMemGetInfo's, for reports only.
std::atomic<size_t> in_use[2];
std::atomic<size_t> peak[2];

void count(Device device, size_t bytes, bool add) {
  const auto d = static_cast<size_t>(device);
  if (!add) {
    in_use[d] -= bytes;
    return;
  }
  const size_t now = in_use[d] += bytes;
  size_t seen = peak[d].load();
  while (now > seen && !peak[d].compare_exchange_weak(seen, now)) {
  }
}

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
    : data_(allocate(device, bytes)), bytes_(bytes), device_(device) {
  count(device_, bytes_, true);
}

size_t memory_in_use(Device device) {
  return in_use[static_cast<size_t>(device)].load();
}
size_t memory_peak(Device device) {
  return peak[static_cast<size_t>(device)].load();
}

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
  if (data_) count(device_, bytes_, false);
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
