#pragma once
// Rng: xoshiro256** seeded through splitmix64. Implemented here rather than
// with <random> distributions so that the same seed gives the same run on
// every platform and standard library (shuffles, initial weights).
#include <array>
#include <cstdint>
#include <span>

namespace cnne {

class Rng {
 public:
  explicit Rng(uint64_t seed = 0);

  uint64_t next_u64();
  // Uniform in [0, 1) with 24 random bits.
  float uniform01();
  // Uniform in [lo, hi).
  float uniform(float lo, float hi);
  // Uniform integer in [0, bound), unbiased (Lemire's method); bound > 0.
  uint64_t below(uint64_t bound);
  // Fisher-Yates shuffle.
  void shuffle(std::span<int32_t> values);

  std::array<uint64_t, 4> state() const { return s_; }
  void set_state(const std::array<uint64_t, 4>& s) { s_ = s; }

 private:
  std::array<uint64_t, 4> s_{};
};

}  // namespace cnne
