#include "engine/cpu_gemm.h"

#include <cblas.h>

#include <limits>
#include <string>

#include "engine/error.h"

namespace cnne::cpu {
namespace {

blasint checked(int64_t v, const char* what) {
  if (v < 0 || v > std::numeric_limits<blasint>::max())
    throw Error(std::string("gemm: ") + what + " = " + std::to_string(v) + " out of BLAS range");
  return static_cast<blasint>(v);
}

}  // namespace

void gemm(Trans ta, Trans tb, int64_t m, int64_t n, int64_t k, float alpha, const float* a,
          int64_t lda, const float* b, int64_t ldb, float beta, float* c, int64_t ldc) {
  if (m == 0 || n == 0) return;
  cblas_sgemm(CblasRowMajor, ta == Trans::Yes ? CblasTrans : CblasNoTrans,
              tb == Trans::Yes ? CblasTrans : CblasNoTrans, checked(m, "M"), checked(n, "N"),
              checked(k, "K"), alpha, a, checked(lda, "lda"), b, checked(ldb, "ldb"), beta, c,
              checked(ldc, "ldc"));
}

}  // namespace cnne::cpu
