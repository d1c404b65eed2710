// The one reader of this process's own CPU time (user and system, all threads), for the stats
// JSON, the status line and the benchmarks' CPU-per-datagram figures.
#pragma once

namespace volley::support {

struct CpuTimes {
  double user_s = 0;
  double sys_s = 0;
  double total_s() const noexcept { return user_s + sys_s; }
};

// Zeros when the OS cannot say.
CpuTimes process_cpu() noexcept;

}  // namespace volley::support
