#pragma once
// Buffer owns one block of memory on one device; it is move-only. Arena
// (engine/arena.h) plans many tensors into one Buffer.
#include <cstddef>

#include "engine/device.h"
#include "engine/tensor.h"

namespace cnne {

class Buffer {
 public:
  Buffer() = default;
  // Uninitialized memory; throws DeviceError (with the sizes) when the device is out of memory.
  Buffer(Device device, size_t bytes);
  ~Buffer();
  Buffer(Buffer&& other) noexcept;
  Buffer& operator=(Buffer&& other) noexcept;
  Buffer(const Buffer&) = delete;
  Buffer& operator=(const Buffer&) = delete;

  void* data() const { return data_; }
  size_t bytes() const { return bytes_; }
  Device device() const { return device_; }

 private:
  void release() noexcept;

  void* data_ = nullptr;
  size_t bytes_ = 0;
  Device device_ = Device::CPU;
};

// Bytes held by live Buffers on `device` now, and the most held at once so far.
size_t memory_in_use(Device device);
size_t memory_peak(Device device);

// Blocking copy between any two devices; shapes must hold the same number of bytes.
// Used at the edges (upload of weights and batches, download for IO and tests).
void copy_tensor(const Tensor& src, const Tensor& dst);

}  // namespace cnne
