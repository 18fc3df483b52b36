#include "cuda/check.h"

#include "engine/error.h"

namespace cnne::cuda {

std::string status_text(cudaError_t s) {
  return std::string(cudaGetErrorName(s)) + " (" + cudaGetErrorString(s) + ")";
}

std::string status_text(cudnnStatus_t s) {
  return cudnnGetErrorString(s);
}

std::string status_text(cublasStatus_t s) {
  return std::string(cublasGetStatusName(s)) + " (" + cublasGetStatusString(s) + ")";
}

void throw_status(const std::string& status, const char* expr, const char* file, int line,
                  const std::string& detail) {
  std::string where = file;
  if (auto slash = where.rfind('/'); slash != std::string::npos) {
    // keep "layers/conv2d_cuda.cpp", not the build machine's absolute path
    auto parent = where.rfind('/', slash - 1);
    where = where.substr(parent == std::string::npos ? 0 : parent + 1);
  }
  throw DeviceError(status + " in " + expr + " at " + where + ":" + std::to_string(line) +
                    (detail.empty() ? "" : " [" + detail + "]"));
}

}  // namespace cnne::cuda
