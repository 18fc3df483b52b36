#pragma once
// ThreadPool: the CPU path's threads (--threads N). The caller runs part 0 of
// each job itself and N-1 persistent workers run the others, so a job of one
// part costs nothing and no thread is created inside a training step.
//
// Note [CPU threads]
// Work is split into contiguous, static ranges (part_range): which part
// computes what depends only on the number of items and of parts, never on
// timing. Each op is written so that its parts write disjoint outputs, which
// makes every result but one independent of the thread count: the
// convolution's weight gradient sums one partial per part, in part order, so
// its bits depend on --threads (and are the same for every run with the same
// --threads, like the rest of the CPU path). OpenBLAS itself stays on one
// thread: its own threading on the small GEMMs of one image costs more than it
// gains (a batch-256 SimpleCNN step took 45 ms on 2 threads against 28 ms on 1).
// Between jobs the workers spin for a while (kSpinIterations) before they
// sleep, as OpenMP runtimes do: a training step is dozens of jobs a few
// microseconds apart, and waking a sleeping thread costs more than that.
// With more threads than the CPUs this process may use, they sleep at once.
#include <atomic>
#include <condition_variable>
#include <cstdint>
#include <exception>
#include <mutex>
#include <thread>
#include <vector>

#include "engine/function_ref.h"

namespace cnne {

class ThreadPool {
 public:
  explicit ThreadPool(int threads);  // threads >= 1; threads - 1 workers
  ~ThreadPool();
  ThreadPool(const ThreadPool&) = delete;
  ThreadPool& operator=(const ThreadPool&) = delete;

  int threads() const { return static_cast<int>(workers_.size()) + 1; }

  // Runs body(part) for part in [0, parts), parts <= threads(), and returns
  // when all have finished; rethrows the first exception a part threw.
  void run(int parts, FunctionRef<void(int)> body);

 private:
  void work(int index);
  void stop_workers();  // joins them; the destructor, and a failed constructor
  // Spins, then sleeps, until pred() holds (pred reads atomics only).
  template <typename Pred>
  void wait_for(std::condition_variable& cv, Pred pred);

  int spin_iterations_ = 0;
  std::vector<std::thread> workers_;
  std::mutex mutex_;  // guards error_ and the sleeping side of the two waits
  std::condition_variable wake_, done_;
  // The current job: written before job_ announces it, and not again until
  // every part has finished, so a worker reads it only for a job it is in.
  const FunctionRef<void(int)>* body_ = nullptr;
  // (generation << 16) | parts, one word so that a worker never pairs one
  // job's generation with another's part count; published with release.
  std::atomic<uint64_t> job_{0};
  std::atomic<int> pending_{0};  // parts of the current job not yet finished
  std::atomic<bool> stopping_{false};
  std::exception_ptr error_;
};

// The CPUs this process may run on (its affinity mask, which containers and
// taskset narrow), or std::thread::hardware_concurrency() where that is unknown.
int usable_cpus();

// The least work worth a part of a job, in elements read or written: below
// it, handing work to a worker costs more than it saves.
constexpr int64_t kMinElementsPerPart = 32768;

// The grain (Context::parallel) of a job whose items touch
// `elements_per_item` elements each.
inline int64_t grain_for(int64_t elements_per_item) {
  const int64_t grain = kMinElementsPerPart / (elements_per_item > 0 ? elements_per_item : 1);
  return grain > 0 ? grain : 1;
}

// Items [begin, end) of part `part` when `n` items are split into `parts`
// contiguous ranges whose sizes differ by at most one.
struct Range {
  int64_t begin, end;
};
inline Range part_range(int64_t n, int parts, int part) {
  return {n * part / parts, n * (part + 1) / parts};
}

}  // namespace cnne
