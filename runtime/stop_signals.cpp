// The stop signals' one thread (runtime/stop_signals.h).
#include "runtime/stop_signals.h"

#include <pthread.h>

#include <atomic>
#include <csignal>
#include <cstdlib>
#include <mutex>
#include <thread>

namespace alibi {

namespace {

std::atomic<bool> g_armed{false};
std::atomic<int> g_signal{0};

sigset_t stop_set() {
  sigset_t set;
  sigemptyset(&set);
  sigaddset(&set, SIGTERM);
  sigaddset(&set, SIGUSR1);
  return set;
}

[[noreturn]] void take_signals(sigset_t set) {
  for (;;) {
    int sig = 0;
    if (sigwait(&set, &sig) != 0) continue;
    if (g_armed.load()) {
      g_signal.store(sig);
      continue;
    }
    // The default action, for the process: unblocked in this thread alone, raised here.
    std::signal(sig, SIG_DFL);
    sigset_t one;
    sigemptyset(&one);
    sigaddset(&one, sig);
    pthread_sigmask(SIG_UNBLOCK, &one, nullptr);
    raise(sig);
    std::_Exit(128 + sig);  // not reached: both signals' default action ends the process
  }
}

}  // namespace

void start_signal_thread() {
  static std::once_flag once;
  std::call_once(once, [] {
    const sigset_t set = stop_set();
    pthread_sigmask(SIG_BLOCK, &set, nullptr);
    std::thread(take_signals, set).detach();
  });
}

void arm_graceful_stop() { g_armed.store(true); }
void disarm_graceful_stop() { g_armed.store(false); }
int stop_signal() { return g_signal.load(); }

}  // namespace alibi
