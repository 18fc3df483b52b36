// `cnnengine info` names the BLAS kernels the CPU path runs on.
#include <gtest/gtest.h>

#include "engine/blas_core.h"
#include "tests/test_util.h"

namespace cnne::test {
namespace {

TEST(BlasCore, InfoNamesTheKernelsAndWhetherTheEnvironmentForcedThem) {
  const RunResult forced = run_cli("info", "OPENBLAS_CORETYPE=Haswell");
  ASSERT_EQ(forced.exit_code, 0) << forced.err;
  EXPECT_NE(forced.out.find("BLAS kernels: OpenBLAS "), std::string::npos) << forced.out;
  EXPECT_NE(forced.out.find("(forced by OPENBLAS_CORETYPE=Haswell)"), std::string::npos)
      << forced.out;

  const RunResult own = run_cli("info", "env -u OPENBLAS_CORETYPE");
  ASSERT_EQ(own.exit_code, 0) << own.err;
  EXPECT_NE(own.out.find("(OpenBLAS's own choice for this CPU)"), std::string::npos) << own.out;
  EXPECT_FALSE(blas_core_name().empty());
}

}  // namespace
}  // namespace cnne::test
