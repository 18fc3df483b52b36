#pragma once
// Row-major single-precision GEMM on the CPU (OpenBLAS underneath):
// C (M, N) = alpha * op(A) (M, K) * op(B) (K, N) + beta * C
#include <cstdint>

namespace cnne::cpu {

enum class Trans { No, Yes };

void gemm(Trans ta, Trans tb, int64_t m, int64_t n, int64_t k, float alpha, const float* a,
          int64_t lda, const float* b, int64_t ldb, float beta, float* c, int64_t ldc);

}  // namespace cnne::cpu
