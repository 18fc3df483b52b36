#include "engine/blas_core.h"

#include <cblas.h>

#include <cstdlib>

namespace cnne {

std::string blas_core_name() {
  const char* name = openblas_get_corename();
  return name ? std::string(name) : std::string("unknown");
}

std::string blas_core_description() {
  std::string text = "OpenBLAS " + blas_core_name();
  if (const char* forced = std::getenv("OPENBLAS_CORETYPE"))
    text += " (forced by OPENBLAS_CORETYPE=" + std::string(forced) + ")";
  else
    text += " (OpenBLAS's own choice for this CPU)";
  return text;
}

}  // namespace cnne
