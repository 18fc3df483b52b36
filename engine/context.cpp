#include "engine/context.h"

#include <cblas.h>

#include <algorithm>

#include "engine/error.h"
#ifdef CNNE_WITH_CUDA
#include "cuda/cuda_context.h"
#else
namespace cnne::cuda {
class CudaContext {};  // never constructed without CUDA; complete for unique_ptr
}  // namespace cnne::cuda
#endif

// OpenBLAS's own (exported, undeclared) function that stops its worker
// threads; weak, so that a BLAS without it still links.
extern "C" int blas_thread_shutdown_(void) __attribute__((weak));

namespace cnne {

Context::Context(Device device, int cpu_threads, bool deterministic)
    : device_(device), cpu_threads_(cpu_threads), deterministic_(deterministic) {
  if (cpu_threads_ > 0) {
    // Note [CPU threads]: BLAS on one thread. Its idle workers, started when
    // the library loaded, otherwise keep polling (sched_yield) all run long,
    // taking a core from the pool's workers on a small machine.
    openblas_set_num_threads(1);
    if (blas_thread_shutdown_) blas_thread_shutdown_();
  }
  if (device_ == Device::CPU && cpu_threads_ > 1)
    pool_ = std::make_unique<ThreadPool>(cpu_threads_);
  if (device_ == Device::CUDA) {
#ifdef CNNE_WITH_CUDA
    cuda_ = std::make_unique<cuda::CudaContext>();
#else
    throw DeviceError("this cnnengine was built without CUDA; use --device cpu");
#endif
  }
}

Context::~Context() = default;

int Context::parallel_parts(int64_t n, int64_t grain) const {
  if (!pool_ || n <= 0) return 1;
  const int64_t by_grain = grain > 0 ? n / grain : n;
  return static_cast<int>(std::max<int64_t>(1, std::min<int64_t>(pool_->threads(), by_grain)));
}

void Context::parallel(int64_t n, int64_t grain, FunctionRef<void(int, int64_t, int64_t)> body) {
  const int parts = parallel_parts(n, grain);
  if (parts == 1) {
    body(0, 0, n);
    return;
  }
  pool_->run(parts, [&](int part) {
    const Range r = part_range(n, parts, part);
    body(part, r.begin, r.end);
  });
}

void Context::reserve_workspace(size_t bytes) {
  if (bytes <= workspace_.bytes()) return;
  synchronize();
  workspace_ = Buffer(device_, bytes);
}

cuda::CudaContext& Context::cuda() const {
  if (!cuda_) throw DeviceError("a CUDA operation was asked of a CPU context");
  return *cuda_;
}

std::string Context::unsupported_reason(DType t) const {
#ifdef CNNE_WITH_CUDA
  if (cuda_ && t == DType::BF16) {
    const auto [major, minor] = cuda_->compute_capability();
    if (major < 8)
      return "bf16 needs a GPU of compute capability 8.0 or newer; this one is " +
             std::to_string(major) + "." + std::to_string(minor) + " (use fp16 or fp32)";
  }
#else
  (void)t;
#endif
  return "";
}

void Context::synchronize() const {
#ifdef CNNE_WITH_CUDA
  if (cuda_) cuda_->synchronize();
#endif
}

}  // namespace cnne
