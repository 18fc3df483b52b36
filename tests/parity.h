#pragma once
// The PyTorch parity run (tests/parity_test.cpp), shared with the GPU tests.
#include <string>
#include <vector>

#include "engine/device.h"

namespace cnne::test {

// Replays the fixture's steps of `recipe` on `device`; returns one line per
// quantity outside tolerance (empty when everything matches PyTorch).
std::vector<std::string> run_parity(Device device, const std::string& recipe);
// A small residual network's fixture (tests/residual_parity_test.cpp):
// "residual_parity" (BatchNorm) or "groupnorm_network_parity" (GroupNorm and
// InstanceNorm2d), from tests/fixtures/<name>.safetensors.
std::vector<std::string> run_network_parity(Device device, const std::string& fixture);
// The fixtures run_network_parity takes.
inline const char* const kNetworkParityFixtures[] = {"residual_parity", "groupnorm_network_parity",
                                                     "se_network_parity"};
// The recipes the fixture holds.
std::vector<std::string> parity_recipes();

}  // namespace cnne::test
