#pragma once
// NvtxRange: a scoped NVTX range, so nsys/ncu show each layer and phase by
// name. NVTX 3 is header-only; without CUDA the range compiles to nothing.
#ifdef CNNE_WITH_CUDA
#include <nvtx3/nvToolsExt.h>
#endif

namespace cnne {

class NvtxRange {
 public:
#ifdef CNNE_WITH_CUDA
  explicit NvtxRange(const char* name) {
    nvtxRangePushA(name);
  }
  ~NvtxRange() {
    nvtxRangePop();
  }
#else
  explicit NvtxRange(const char*) {}
#endif
  NvtxRange(const NvtxRange&) = delete;
  NvtxRange& operator=(const NvtxRange&) = delete;
};

}  // namespace cnne
