#include "engine/interval_clock.h"

#include <chrono>

#ifdef CNNE_WITH_CUDA
#include "cuda/event_clock.h"
#endif

namespace cnne {
namespace {

class HostClock : public IntervalClock {
 public:
  explicit HostClock(size_t slots) : begin_(slots), totals_(slots, 0.0) {}
  void start(size_t slot) override { begin_[slot] = std::chrono::steady_clock::now(); }
  void stop(size_t slot) override {
    totals_[slot] +=
        std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - begin_[slot])
            .count();
  }
  void end_round() override {}
  std::vector<double> totals_ms() const override { return totals_; }

 private:
  std::vector<std::chrono::steady_clock::time_point> begin_;
  std::vector<double> totals_;
};

}  // namespace

std::unique_ptr<IntervalClock> make_interval_clock(Context& ctx, size_t slots) {
#ifdef CNNE_WITH_CUDA
  if (ctx.device() == Device::CUDA) return cuda::make_event_clock(ctx, slots);
#else
  (void)ctx;
#endif
  return std::make_unique<HostClock>(slots);
}

}  // namespace cnne
