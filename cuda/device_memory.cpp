#include "cuda/device_memory.h"

#include <atomic>
#include <cstdio>
#include <string>

#include "cuda/check.h"
#include "engine/error.h"

namespace cnne::cuda {
namespace {

std::string mib(size_t bytes) {
  char text[32];
  std::snprintf(text, sizeof text, "%.1f MiB", static_cast<double>(bytes) / (1024.0 * 1024.0));
  return text;
}

std::atomic<int64_t> allocations{0};

}  // namespace

int64_t device_allocation_count() {
  return allocations.load();
}

void* device_malloc(size_t bytes) {
  ++allocations;
  void* p = nullptr;
  const cudaError_t s = cudaMalloc(&p, bytes);
  if (s == cudaErrorMemoryAllocation) {
    cudaGetLastError();
    size_t free_bytes = 0, total = 0;
    cudaMemGetInfo(&free_bytes, &total);
    throw DeviceError("GPU out of memory: asked for " + mib(bytes) + ", " + mib(free_bytes) +
                      " free of " + mib(total) + "; try a smaller --batch-size");
  }
  CNNE_CHECK_AT(s, "cudaMalloc of " + mib(bytes));
  return p;
}

void device_free(void* p) noexcept {
  cudaFree(p);
}

void copy_blocking(void* dst, const void* src, size_t bytes) {
  CNNE_CHECK_AT(cudaMemcpy(dst, src, bytes, cudaMemcpyDefault), mib(bytes));
}

void* pinned_malloc(size_t bytes) {
  void* p = nullptr;
  CNNE_CHECK_AT(cudaMallocHost(&p, bytes), "pinned " + mib(bytes));
  return p;
}

void pinned_free(void* p) noexcept {
  cudaFreeHost(p);
}

}  // namespace cnne::cuda
