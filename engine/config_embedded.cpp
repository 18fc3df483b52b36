// The tutorial's config compiled into the binary, so `cnnengine train` runs
// the tutorial with no file at hand.
#include "cnne_embedded_config.h"
#include "engine/config.h"

namespace cnne {

const char* Config::embedded_default() {
  return generated::kSimpleCnnConfig;
}

}  // namespace cnne
