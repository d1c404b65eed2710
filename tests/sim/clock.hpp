// Virtual time for simulated tests: a TimePoint that only moves when the harness moves it. Never
// reads the OS clock, so 10 virtual minutes cost milliseconds and every run is reproducible.
#pragma once

#include <algorithm>

#include "volley/vocabulary/time.hpp"

namespace volley::sim {

using volley::TimePoint;
using volley::kMillisecond;
using volley::kSecond;

class VirtualClock {
 public:
  explicit VirtualClock(TimePoint start = 0) : now_(start) {}
  TimePoint now() const { return now_; }
  // Time never goes backwards: a deadline already in the past leaves the clock where it is.
  void advance_to(TimePoint t) { now_ = std::max(now_, t); }
  void advance_by(TimePoint d) { now_ += d; }

 private:
  TimePoint now_;
};

}  // namespace volley::sim
