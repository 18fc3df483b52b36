// The fused step's cooperative kernel (engine/fused_step_kernel.cuh), run by
// the kernel emulation (Note [kernel emulation] in cuda/emulator.h) with
// every thread of 1 to 3 blocks of 256 at once and a real grid-wide barrier
// between phases, against the host loop that the fused-step tests compare
// with the layer path. The phases are the same code on both, so any
// difference is the kernel's: a phase that reads what another thread of the
// same phase writes, a barrier in the wrong place, the step loop, the
// look-ahead batch, the phase clock. SGD and AdamW updates.
#define CNNE_EMULATED_KERNELS 1
#include "cuda/emulator.h"

#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "engine/fused_step.h"
#include "engine/fused_step_kernel.cuh"
#include "tests/fused_test_util.h"

namespace cnne {
namespace {

using namespace fused_test;

constexpr int64_t kHostLoop = 0;  // blocks: 0 runs FusedStep's host loop instead

struct Trained {
  std::vector<float> weights;  // and the meters, last
  int32_t nonfinite = 0;
  std::vector<std::pair<std::string, double>> phase_times;
};

// Three fused steps of `json` on `data` (batches of `batch`), on the CPU,
// through the host loop or the emulated kernel on `blocks` blocks.
Trained three_steps(const nlohmann::json& json, const ImageDataset& data, int64_t batch,
                    int64_t blocks) {
  FusedRig rig(json, data, batch);
  const std::vector<FusedStepArgs> args = rig.first_steps(3);
  Trained out;
  if (blocks == kHostLoop) {
    rig.step->run(args);
  } else {
    rig.step->set_phase_timing(true);
    cnne_emu::launch_cooperative(dim3(static_cast<unsigned>(blocks)), dim3(cuda::kFusedThreads),
                                 cuda::fused_steps_kernel, &rig.step->plan(), args.data(),
                                 static_cast<int64_t>(args.size()));
    out.phase_times = rig.step->phase_times();
  }
  out.nonfinite = rig.nonfinite;
  out.weights = rig.weights_and_meters();
  return out;
}

TEST(EmulatedKernels, FusedStepKernelGivesTheHostLoopsBits) {
  struct Case {
    const char* name;
    nlohmann::json json;
    int64_t batch;
  };
  nlohmann::json adamw = everything_config();  // the update phase's other branch
  adamw["training"]["optimizer"] = {{"type", "adamw"}, {"lr", 0.002}, {"weight_decay", 0.01}};
  const Case cases[] = {{"everything", everything_config(), 5},
                        {"everything with AdamW", adamw, 5},
                        {"pooled", pooled_config(), 5},
                        {"tutorial", tutorial_config(), 4},
                        {"fashion", fashion_config(), 4}};
  for (const Case& c : cases) {
    const ImageDataset data = images_for(c.json, 15, 2);
    const Trained want = three_steps(c.json, data, c.batch, kHostLoop);
    EXPECT_EQ(want.nonfinite, 0) << c.name;
    for (const int64_t blocks : {1, 3}) {
      const Trained got = three_steps(c.json, data, c.batch, blocks);
      const std::string at = std::string(c.name) + " on " + std::to_string(blocks) + " blocks";
      EXPECT_EQ(got.nonfinite, 0) << at;
      EXPECT_TRUE(got.weights == want.weights)
          << at << ": max difference " << max_difference(got.weights, want.weights);
      // Thread 0 read the clock after every barrier: each phase has its time.
      ASSERT_FALSE(got.phase_times.empty()) << at;
      double total = 0;
      for (const auto& [phase, ms] : got.phase_times) {
        EXPECT_GE(ms, 0.0) << at << " " << phase;
        total += ms;
      }
      EXPECT_GT(total, 0.0) << at;
    }
  }
}

}  // namespace
}  // namespace cnne
