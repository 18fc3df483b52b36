// libFuzzer entry point for cnne::fuzz::image_one (tools/fuzz.sh builds and runs it).
#include "tests/fuzz/fuzz_targets.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  cnne::fuzz::image_one(data, size);
  return 0;
}
