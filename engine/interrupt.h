#pragma once
// InterruptGuard: while one lives, SIGINT and SIGTERM do not kill the
// process; they are recorded, and the training loop polls pending() after each
// step, writes a checkpoint and stops (exit code 128 + signal). A second
// signal of the same kind kills the process as usual, for a user who must stop
// at once. This is the one piece of global state in cnnengine: a signal
// handler can reach nothing else.
namespace cnne {

class InterruptGuard {
 public:
  InterruptGuard();
  ~InterruptGuard();
  InterruptGuard(const InterruptGuard&) = delete;
  InterruptGuard& operator=(const InterruptGuard&) = delete;

  // The signal received (SIGINT or SIGTERM), or 0.
  static int pending();
};

}  // namespace cnne
