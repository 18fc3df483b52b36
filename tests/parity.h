#pragma once
// The PyTorch parity run (tests/parity_test.cpp), shared with the GPU tests.
#include <string>
#include <vector>

#include "engine/device.h"

namespace cnne::test {

// Replays the fixture's steps of `recipe` on `device`; returns one line per
// quantity outside tolerance (empty when everything matches PyTorch).
std::vector<std::string> run_parity(Device device, const std::string& recipe);
// The residual BatchNorm network's fixture (tests/residual_parity_test.cpp).
std::vector<std::string> run_residual_parity(Device device);
// The recipes the fixture holds.
std::vector<std::string> parity_recipes();

}  // namespace cnne::test
