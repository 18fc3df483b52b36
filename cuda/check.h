#pragma once
// CNNE_CHECK(expr): one check over CUDA runtime, cuDNN and cuBLAS statuses
// (DESIGN principle 5). On failure it throws DeviceError with the library's
// error name, the expression, file:line, and, with CNNE_CHECK_AT, a
// description of the shapes involved (evaluated only on failure).
#include <cublas_v2.h>
#include <cuda_runtime.h>
#include <cudnn.h>

#include <string>

namespace cnne::cuda {

// The library's name and text for a status.
std::string status_text(cudaError_t s);
std::string status_text(cudnnStatus_t s);
std::string status_text(cublasStatus_t s);
inline bool failed(cudaError_t s) {
  return s != cudaSuccess;
}
inline bool failed(cudnnStatus_t s) {
  return s != CUDNN_STATUS_SUCCESS;
}
inline bool failed(cublasStatus_t s) {
  return s != CUBLAS_STATUS_SUCCESS;
}

[[noreturn]] void throw_status(const std::string& status, const char* expr, const char* file,
                               int line, const std::string& detail);

}  // namespace cnne::cuda

#define CNNE_CHECK_AT(expr, detail)                                                        \
  do {                                                                                     \
    const auto cnne_status_ = (expr);                                                      \
    if (::cnne::cuda::failed(cnne_status_))                                                \
      ::cnne::cuda::throw_status(::cnne::cuda::status_text(cnne_status_), #expr, __FILE__, \
                                 __LINE__, (detail));                                      \
  } while (0)

#define CNNE_CHECK(expr) CNNE_CHECK_AT(expr, std::string())

// After a kernel launch: reports launch errors (bad configuration) at once.
#define CNNE_CHECK_LAUNCH(what) CNNE_CHECK_AT(cudaGetLastError(), (what))
