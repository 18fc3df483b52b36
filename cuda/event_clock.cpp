#include "cuda/event_clock.h"

#include <vector>

#include "cuda/check.h"
#include "cuda/cuda_context.h"
#include "cuda/handles.h"

namespace cnne::cuda {
namespace {

class EventClock : public IntervalClock {
 public:
  EventClock(Context& ctx, size_t slots)
      : stream_(ctx.cuda().stream()),
        begin_(slots),
        end_(slots),
        used_(slots, false),
        totals_(slots, 0.0) {}
  void start(size_t slot) override {
    CNNE_CHECK(cudaEventRecord(begin_[slot], stream_));
    used_[slot] = true;
  }
  void stop(size_t slot) override { CNNE_CHECK(cudaEventRecord(end_[slot], stream_)); }
  void end_round() override {
    CNNE_CHECK(cudaStreamSynchronize(stream_));
    for (size_t i = 0; i < totals_.size(); ++i) {
      if (!used_[i]) continue;
      float ms = 0;
      CNNE_CHECK(cudaEventElapsedTime(&ms, begin_[i], end_[i]));
      totals_[i] += ms;
      used_[i] = false;
    }
  }
  std::vector<double> totals_ms() const override { return totals_; }

 private:
  cudaStream_t stream_;
  std::vector<Event> begin_, end_;
  std::vector<bool> used_;
  std::vector<double> totals_;
};

}  // namespace

std::unique_ptr<IntervalClock> make_event_clock(Context& ctx, size_t slots) {
  return std::make_unique<EventClock>(ctx, slots);
}

}  // namespace cnne::cuda
