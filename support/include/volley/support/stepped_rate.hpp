// The stepped load ramp of volley-bots and volley-bench-udp-echo (--rate-double-after,
// --rate-double-every), defined once: bench.sh drives both with the same flags and compares them.
#pragma once

#include <cmath>

namespace volley::support {

// The rate `elapsed_s` into a run: `rate` until the first doubling, at `after_s` (or, when 0, one
// `every_s` in), then doubled again every `every_s`; with every_s 0 that first doubling is the
// only one. Both 0: a constant rate.
inline double stepped_rate(double rate, double elapsed_s, double after_s, double every_s) {
  const double first = after_s > 0 ? after_s : every_s;
  if (first <= 0 || elapsed_s < first) return rate;
  if (every_s <= 0) return rate * 2;
  return rate * std::exp2(std::floor((elapsed_s - first) / every_s) + 1);
}

}  // namespace volley::support
