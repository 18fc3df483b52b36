#include "engine/thread_pool.h"

#include <sched.h>

#include <system_error>

#include "engine/error.h"

namespace cnne {
namespace {

// Polling before a thread sleeps: from tens of microseconds to about a
// millisecond, depending on the CPU's PAUSE latency.
constexpr int kSpinIterations = 20000;

inline void cpu_relax() {
#if defined(__x86_64__) || defined(__i386__)
  __builtin_ia32_pause();
#endif
}

}  // namespace

int usable_cpus() {
  cpu_set_t set;
  CPU_ZERO(&set);
  if (sched_getaffinity(0, sizeof set, &set) == 0) return CPU_COUNT(&set);
  return static_cast<int>(std::thread::hardware_concurrency());  // 0 when unknown
}

template <typename Pred>
void ThreadPool::wait_for(std::condition_variable& cv, Pred pred) {
  for (int i = 0; i < spin_iterations_; ++i) {
    if (pred()) return;
    cpu_relax();
  }
  std::unique_lock<std::mutex> lock(mutex_);
  cv.wait(lock, pred);
}

ThreadPool::ThreadPool(int threads) {
  if (threads < 1) throw Error("thread pool: " + std::to_string(threads) + " threads, need >= 1");
  // More threads than cores: a spinning worker would take a core from the
  // thread it waits for, so they sleep at once.
  const int cores = usable_cpus();
  spin_iterations_ = cores == 0 || threads <= cores ? kSpinIterations : 0;
  workers_.reserve(static_cast<size_t>(threads - 1));
  try {
    for (int i = 1; i < threads; ++i) workers_.emplace_back([this, i] { work(i); });
  } catch (const std::system_error& e) {
    const size_t started = workers_.size();
    stop_workers();  // the ones already started, or their condition variables never die
    throw Error("cannot start CPU thread " + std::to_string(started + 2) + " of " +
                std::to_string(threads) + " (" + e.what() + "); use fewer --threads");
  }
}

void ThreadPool::stop_workers() {
  {
    std::lock_guard<std::mutex> lock(mutex_);
    stopping_.store(true, std::memory_order_release);
  }
  wake_.notify_all();
  for (auto& t : workers_) t.join();
  workers_.clear();
}

ThreadPool::~ThreadPool() {
  stop_workers();
}

void ThreadPool::run(int parts, FunctionRef<void(int)> body) {
  if (parts <= 1 || workers_.empty()) {
    for (int p = 0; p < parts; ++p) body(p);
    return;
  }
  if (parts > threads() || parts > 0xFFFF)
    throw Error("thread pool: " + std::to_string(parts) + " parts for " +
                std::to_string(threads()) + " threads");
  body_ = &body;
  error_ = nullptr;
  pending_.store(parts - 1, std::memory_order_relaxed);
  {
    // Under the mutex, so that a worker about to sleep either sees the new
    // job in its predicate or is already waiting for the notification.
    std::lock_guard<std::mutex> lock(mutex_);
    const uint64_t generation = (job_.load(std::memory_order_relaxed) >> 16) + 1;
    job_.store(generation << 16 | static_cast<uint64_t>(parts), std::memory_order_release);
  }
  wake_.notify_all();
  std::exception_ptr mine;
  try {
    body(0);
  } catch (...) {
    mine = std::current_exception();
  }
  wait_for(done_, [this] { return pending_.load(std::memory_order_acquire) == 0; });
  body_ = nullptr;
  if (mine) std::rethrow_exception(mine);
  std::lock_guard<std::mutex> lock(mutex_);
  if (error_) std::rethrow_exception(error_);
}

void ThreadPool::work(int index) {
  uint64_t seen = 0;  // the last generation this worker looked at
  uint64_t job = 0;
  for (;;) {
    wait_for(wake_, [&] {
      job = job_.load(std::memory_order_acquire);
      return stopping_.load(std::memory_order_acquire) || (job >> 16) != seen;
    });
    if (stopping_.load(std::memory_order_acquire)) return;
    seen = job >> 16;
    if (index >= static_cast<int>(job & 0xFFFF)) continue;  // this job needs fewer parts
    try {
      (*body_)(index);
    } catch (...) {
      std::lock_guard<std::mutex> lock(mutex_);
      if (!error_) error_ = std::current_exception();
    }
    if (pending_.fetch_sub(1, std::memory_order_acq_rel) == 1) {
      std::lock_guard<std::mutex> lock(mutex_);  // see run(): no lost wake-up
      done_.notify_one();
    }
  }
}

}  // namespace cnne
