#include "engine/interrupt.h"

#include <csignal>

namespace cnne {
namespace {

volatile std::sig_atomic_t received = 0;
struct sigaction previous_int, previous_term;

void on_signal(int signo) {
  received = signo;
  // The next one of this kind ends the process the usual way.
  std::signal(signo, SIG_DFL);
}

}  // namespace

InterruptGuard::InterruptGuard() {
  received = 0;
  struct sigaction action {};
  action.sa_handler = on_signal;
  sigemptyset(&action.sa_mask);
  sigaction(SIGINT, &action, &previous_int);
  sigaction(SIGTERM, &action, &previous_term);
}

InterruptGuard::~InterruptGuard() {
  sigaction(SIGINT, &previous_int, nullptr);
  sigaction(SIGTERM, &previous_term, nullptr);
}

int InterruptGuard::pending() {
  return received;
}

}  // namespace cnne
