#pragma once
// Context: everything an op needs to run on one device, and no globals.
// Ops route on context.device() (DESIGN principle 1). On the GPU it owns a
// cuda::CudaContext (stream, cuDNN and cuBLAS handles, plan cache).
#include <cstddef>
#include <cstdint>
#include <memory>

#include <string>

#include "engine/buffer.h"
#include "engine/device.h"
#include "engine/tensor.h"
#include "engine/thread_pool.h"

namespace cnne {
namespace cuda {
class CudaContext;
}

class Context {
 public:
  // CPU: `cpu_threads` threads for the CPU kernels (Note [CPU threads]); BLAS
  // runs on one thread of each. That setting is OpenBLAS's, process-wide, and
  // stays for later contexts; 0 leaves OpenBLAS as it is and makes no pool.
  // `deterministic`: only algorithms whose results are bit-reproducible (the
  // CPU path always is, for a fixed thread count; on the GPU this restricts
  // the cuDNN algorithm choice).
  explicit Context(Device device, int cpu_threads = 1, bool deterministic = false);
  ~Context();
  Context(const Context&) = delete;
  Context& operator=(const Context&) = delete;

  Device device() const { return device_; }
  int cpu_threads() const { return cpu_threads_; }
  bool deterministic() const { return deterministic_; }

  // The number of parts parallel() splits n items into: up to cpu_threads(),
  // each of at least `grain` items (so small jobs stay on the calling thread).
  int parallel_parts(int64_t n, int64_t grain) const;
  // Runs body(part, begin, end) over parallel_parts(n, grain) contiguous ranges
  // of [0, n) (part_range), in parallel on the CPU's thread pool. Not reentrant.
  void parallel(int64_t n, int64_t grain,
                FunctionRef<void(int part, int64_t begin, int64_t end)> body);
  // fp32 convolutions may use TF32 tensor-core math (training.tf32); set
  // before the network's setup (plans are made there).
  void set_allow_tf32(bool allow) { allow_tf32_ = allow; }
  bool allow_tf32() const { return allow_tf32_; }

  // Scratch memory shared by all layers, sized once at setup to the largest
  // need; never grown inside a training step.
  void reserve_workspace(size_t bytes);
  void* workspace() const { return workspace_.data(); }
  size_t workspace_bytes() const { return workspace_.bytes(); }

  // "" when this device computes with activations of dtype `t`, else why not
  // (BF16 needs a GPU of compute capability 8.0 or newer; the CPU emulates both).
  std::string unsupported_reason(DType t) const;

  // The GPU state; throws DeviceError on a CPU context.
  cuda::CudaContext& cuda() const;
  // Waits until all queued device work is done (no-op on the CPU).
  void synchronize() const;

 private:
  Device device_;
  int cpu_threads_;
  bool deterministic_;
  bool allow_tf32_ = false;
  Buffer workspace_;
  std::unique_ptr<ThreadPool> pool_;  // CPU with cpu_threads > 1
  std::unique_ptr<cuda::CudaContext> cuda_;
};

}  // namespace cnne
