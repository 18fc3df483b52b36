#include "cuda/profiler.h"

#ifdef CNNE_WITH_CUDA
#include <cuda_profiler_api.h>

#include "cuda/check.h"
#endif

namespace cnne::cuda {

#ifdef CNNE_WITH_CUDA
void profiler_start() {
  CNNE_CHECK(cudaProfilerStart());
}
void profiler_stop() {
  CNNE_CHECK(cudaProfilerStop());
}
#else
void profiler_start() {}
void profiler_stop() {}
#endif

}  // namespace cnne::cuda
