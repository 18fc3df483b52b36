// The CPU threads behind cuda/emulator.h (Note [kernel emulation]).
#include "cuda/emulator.h"

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <exception>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "engine/error.h"

namespace cnne_emu {

Coordinates& coordinates() {
  thread_local Coordinates mine;
  return mine;
}

namespace {

constexpr int kWarpSize = 32;
// A barrier nobody passes for this long is a deadlock (threads of one warp
// split between a __syncthreads() and a shuffle, say): report it and abort,
// since the threads that wait cannot be unwound. 60 s, or
// $CNNE_EMULATOR_DEADLOCK_SECONDS (the emulator's own test sets 1).
std::chrono::seconds deadlock_after() {
  static const std::chrono::seconds after = [] {
    const char* env = std::getenv("CNNE_EMULATOR_DEADLOCK_SECONDS");
    const long s = env ? std::strtol(env, nullptr, 10) : 0;
    return std::chrono::seconds(s > 0 ? s : 60);
  }();
  return after;
}

std::string where(const Site& s) {
  const std::string file = s.file_name();
  const size_t slash = file.find_last_of('/');
  return (slash == std::string::npos ? file : file.substr(slash + 1)) + ":" +
         std::to_string(s.line());
}

bool same_site(const Site& a, const Site& b) {
  return a.line() == b.line() && std::string_view(a.file_name()) == b.file_name();
}

// The first problems the threads of a launch met, and how many there were.
class Problems {
 public:
  void add(const std::string& what) {
    std::lock_guard lock(mutex_);
    if (count_++ < kKept) list_.push_back(what);
  }
  // "" when there were none.
  std::string summary() {
    std::lock_guard lock(mutex_);
    std::string s;
    for (const std::string& p : list_) s += (s.empty() ? "" : "; ") + p;
    if (count_ > kKept) s += "; and " + std::to_string(count_ - kKept) + " more";
    return s;
  }

 private:
  static constexpr int kKept = 4;
  std::mutex mutex_;
  std::vector<std::string> list_;
  int count_ = 0;
};

// A barrier over `count` threads, which a thread leaves when it returns from
// the kernel (as exited threads no longer hold a GPU barrier back). Every
// arrival of one phase must come from the same call site.
class Barrier {
 public:
  Barrier(int count, std::string what, Problems& problems)
      : expected_(count), what_(std::move(what)), problems_(problems) {}

  // The last thread to arrive runs `last` (if any) before it releases the others.
  void arrive_and_wait(const Site& site, const std::function<void()>& last = nullptr) {
    std::unique_lock lock(mutex_);
    if (arrived_ == 0) {
      site_ = site;
    } else if (!same_site(site, site_) && !reported_) {
      reported_ = true;
      problems_.add(what_ + ": threads wait at different barriers, " + where(site_) + " and " +
                    where(site) + " (a barrier in divergent code)");
    }
    const uint64_t generation = generation_.load(std::memory_order_relaxed);
    if (++arrived_ == expected_) {
      if (last) last();
      complete_phase();
      return;
    }
    lock.unlock();
    // Yielding, not sleeping on a condition variable: a block's threads
    // outnumber the cores many times, and a wake-up through the kernel for
    // each of them cost most of the emulation's time.
    const auto start = std::chrono::steady_clock::now();
    for (uint64_t spins = 1; generation_.load(std::memory_order_acquire) == generation; ++spins) {
      std::this_thread::yield();
      if (spins % 4096 == 0 && std::chrono::steady_clock::now() - start > deadlock_after()) {
        lock.lock();
        std::fprintf(stderr, "emulated kernel: deadlock, %d of %d threads wait at %s (%s)\n",
                     arrived_, expected_, where(site_).c_str(), what_.c_str());
        std::abort();
      }
    }
  }

  void leave() {
    std::lock_guard lock(mutex_);
    --expected_;
    if (arrived_ > 0 && arrived_ == expected_) complete_phase();
  }

 private:
  void complete_phase() {  // with mutex_ held
    arrived_ = 0;
    reported_ = false;
    generation_.fetch_add(1, std::memory_order_release);
  }

  std::mutex mutex_;
  int expected_;
  int arrived_ = 0;
  std::atomic<uint64_t> generation_ = 0;  // phases completed
  Site site_;
  bool reported_ = false;
  const std::string what_;
  Problems& problems_;
};

struct Warp {
  Warp(int lane_count, const std::string& what, Problems& problems)
      : lanes(lane_count), barrier(lane_count, what, problems) {}
  const int lanes;
  Barrier barrier;
  // Each lane's value, by the parity of the shuffle: one barrier a shuffle
  // suffices, since a lane can write the next shuffle's values only after
  // every lane has passed this one's barrier, and the one after that's only
  // after every lane has read these (it passed the next barrier).
  uint64_t slots[2][kWarpSize] = {};
  // Shuffles each lane has begun; atomic, as a lane ahead counts its next
  // one while the others still check this one.
  std::atomic<int64_t> calls[kWarpSize] = {};
};

struct Block {
  Block(int threads, Problems& problems) : barrier(threads, "__syncthreads()", problems) {
    for (int first = 0; first < threads; first += kWarpSize)
      warps.push_back(std::make_unique<Warp>(std::min(kWarpSize, threads - first),
                                             "__shfl_down_sync()", problems));
  }
  Barrier barrier;
  std::vector<std::unique_ptr<Warp>> warps;
};

struct LaunchState {
  bool cooperative = false;
  Problems problems;
  std::unique_ptr<Barrier> grid_barrier;  // cooperative launches only
};

// The running thread's launch, block and place in it.
thread_local LaunchState* current_launch = nullptr;
thread_local Block* current_block = nullptr;
thread_local int current_thread = 0;  // linear index within the block

uint3 unflatten(int64_t i, dim3 d) {
  return {static_cast<unsigned>(i % d.x), static_cast<unsigned>(i / d.x % d.y),
          static_cast<unsigned>(i / (int64_t(d.x) * d.y))};
}

// Thread `t` of block `b`: runs the body, then leaves every barrier.
void run_thread(LaunchState& launch, Block& block, int64_t b, int t, dim3 grid, dim3 dims,
                const std::function<void()>& body) {
  current_launch = &launch;
  current_block = &block;
  current_thread = t;
  coordinates() = {unflatten(t, dims), unflatten(b, grid), dims, grid};
  try {
    body();
  } catch (const std::exception& e) {
    launch.problems.add(std::string("a thread threw: ") + e.what());
  }
  block.barrier.leave();
  block.warps[t / kWarpSize]->barrier.leave();
  if (launch.grid_barrier) launch.grid_barrier->leave();
  current_launch = nullptr;
  current_block = nullptr;
}

LaunchState& launch_of(const char* what) {
  if (!current_launch) throw cnne::Error(std::string(what) + " outside an emulated kernel launch");
  return *current_launch;
}

}  // namespace

void sync_block(const Site& site) {
  launch_of("__syncthreads()");
  current_block->barrier.arrive_and_wait(site);
}

void sync_grid(const Site& site) {
  LaunchState& launch = launch_of("grid.sync()");
  if (!launch.grid_barrier) {
    launch.problems.add("grid.sync() at " + where(site) + " in a launch that is not cooperative");
    return;
  }
  launch.grid_barrier->arrive_and_wait(site);
}

uint64_t shuffle_down_bits(const Site& site, unsigned mask, uint64_t bits, unsigned delta) {
  LaunchState& launch = launch_of("__shfl_down_sync()");
  Warp& warp = *current_block->warps[current_thread / kWarpSize];
  const int lane = current_thread % kWarpSize;
  const unsigned full = warp.lanes == kWarpSize ? 0xffffffffu : (1u << warp.lanes) - 1;
  if (mask != full) {  // the kernels shuffle whole warps; a partial mask is not emulated
    char masks[64];
    std::snprintf(masks, sizeof masks, ": mask 0x%x, the warp's lanes are 0x%x", mask, full);
    launch.problems.add("__shfl_down_sync() at " + where(site) + masks);
    return bits;
  }
  const int64_t call = warp.calls[lane].fetch_add(1, std::memory_order_relaxed) + 1;
  uint64_t* slots = warp.slots[call % 2];
  slots[lane] = bits;
  warp.barrier.arrive_and_wait(site);
  // Every lane of the mask has begun this shuffle (a lane ahead is at call + 1).
  for (int l = 0; l < warp.lanes; ++l)
    if (warp.calls[l].load(std::memory_order_relaxed) < call) {
      launch.problems.add("__shfl_down_sync() at " + where(site) + ": lane " + std::to_string(l) +
                          " of the mask did not take part (it returned or diverged)");
      break;
    }
  return lane + int64_t(delta) < warp.lanes ? slots[lane + delta] : bits;
}

void shared_memory_declared(const Site& site) {
  LaunchState& launch = launch_of("__shared__");
  if (launch.cooperative)
    launch.problems.add("__shared__ at " + where(site) +
                        ": the emulation shares static arrays between the threads of one block "
                        "at a time, and a cooperative launch runs every block at once");
}

void run_grid(dim3 grid, dim3 block, bool cooperative, const std::function<void()>& body) {
  const int64_t blocks = int64_t(grid.x) * grid.y * grid.z;
  const int64_t threads = int64_t(block.x) * block.y * block.z;
  if (blocks < 1 || threads < 1 || threads > 1024)
    throw cnne::Error("emulated launch: " + std::to_string(blocks) + " blocks of " +
                      std::to_string(threads) + " threads (1 to 1024 threads a block)");
  LaunchState launch;
  launch.cooperative = cooperative;
  std::vector<std::thread> workers;
  if (cooperative) {
    launch.grid_barrier = std::make_unique<Barrier>(static_cast<int>(blocks * threads),
                                                    "grid.sync()", launch.problems);
    std::vector<std::unique_ptr<Block>> states;
    for (int64_t b = 0; b < blocks; ++b)
      states.push_back(std::make_unique<Block>(static_cast<int>(threads), launch.problems));
    for (int64_t b = 0; b < blocks; ++b)
      for (int t = 0; t < threads; ++t)
        workers.emplace_back(run_thread, std::ref(launch), std::ref(*states[b]), b, t, grid, block,
                             std::cref(body));
    for (std::thread& w : workers) w.join();
  } else {
    // One worker per thread of a block, reused block after block: all of a
    // block's threads end before the next block starts (its __shared__ arrays
    // are the previous block's).
    std::unique_ptr<Block> state =
        std::make_unique<Block>(static_cast<int>(threads), launch.problems);
    Barrier between_blocks(static_cast<int>(threads), "between blocks", launch.problems);
    const std::function<void()> next_block = [&] {
      state = std::make_unique<Block>(static_cast<int>(threads), launch.problems);
    };
    for (int t = 0; t < threads; ++t)
      workers.emplace_back([&, t] {
        for (int64_t b = 0; b < blocks; ++b) {
          run_thread(launch, *state, b, t, grid, block, body);
          between_blocks.arrive_and_wait(Site::current(), next_block);
        }
      });
    for (std::thread& w : workers) w.join();  // before state and between_blocks go
  }
  const std::string problems = launch.problems.summary();
  if (!problems.empty()) throw cnne::Error("emulated kernel: " + problems);
}

}  // namespace cnne_emu
