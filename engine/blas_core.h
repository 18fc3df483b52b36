// Which OpenBLAS kernels the CPU path's GEMMs run on.
#pragma once

#include <string>

namespace cnne {

// The kernels OpenBLAS chose when it loaded, e.g. "SkylakeX", "Haswell".
std::string blas_core_name();

// One line for `cnnengine info`: the kernels, and OPENBLAS_CORETYPE when it
// forces them. OpenBLAS reads that variable once, at load time; on an AVX-512
// CPU forcing the AVX2 "Haswell" kernels halves GEMM throughput
// (docs/BENCHMARKS.md), which is worth seeing next to any CPU timing.
std::string blas_core_description();

}  // namespace cnne
