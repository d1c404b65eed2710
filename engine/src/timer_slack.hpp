// PreciseTimers: while it lives, the calling thread's timers end when asked. Linux lets a
// sleeping thread's timer fire up to its "timer slack" late (50 µs by default) to merge
// wake-ups; a coalescing nap of 200 µs then lasted up to 250, and the RTT p99 grew by more than
// the cap (BENCHMARKS.md, twenty-third session). The loop sets 1 µs for as long as it runs with
// coalescing on and gives the thread its old slack back. Elsewhere it does nothing.
#pragma once

#ifdef __linux__
#include <sys/prctl.h>
#endif

namespace volley::engine {

class PreciseTimers {
 public:
  static constexpr unsigned long kSlackNs = 1000;

  explicit PreciseTimers(bool on) noexcept {
#ifdef __linux__
    if (!on) return;
    const int previous = prctl(PR_GET_TIMERSLACK, 0, 0, 0, 0);
    if (previous > 0 && static_cast<unsigned long>(previous) > kSlackNs &&
        prctl(PR_SET_TIMERSLACK, kSlackNs, 0, 0, 0) == 0) {
      previous_ns_ = static_cast<unsigned long>(previous);
    }
#else
    (void)on;
#endif
  }
  ~PreciseTimers() {
#ifdef __linux__
    if (previous_ns_ != 0) prctl(PR_SET_TIMERSLACK, previous_ns_, 0, 0, 0);
#endif
  }
  PreciseTimers(const PreciseTimers&) = delete;
  PreciseTimers& operator=(const PreciseTimers&) = delete;

 private:
  unsigned long previous_ns_ = 0;  // the slack to give back; 0: nothing was changed
};

}  // namespace volley::engine
