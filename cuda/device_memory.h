#pragma once
// Raw device memory for engine/buffer.cpp. Buffer is the RAII owner; these are
// the only cudaMalloc/cudaFree calls in cnnengine, all made at setup.
#include <cstddef>
#include <cstdint>

namespace cnne::cuda {

// Throws DeviceError saying how much was asked and how much is free.
void* device_malloc(size_t bytes);
void device_free(void* p) noexcept;
// How many device_malloc calls this process made (tests prove a training step makes none).
int64_t device_allocation_count();
// Blocking copy in any direction (unified addressing picks the kind).
void copy_blocking(void* dst, const void* src, size_t bytes);
// Page-locked host memory for asynchronous uploads.
void* pinned_malloc(size_t bytes);
void pinned_free(void* p) noexcept;

}  // namespace cnne::cuda
