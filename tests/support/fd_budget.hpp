// How many file descriptors a test may open at once. Tests with thousands of sockets raise the
// soft RLIMIT_NOFILE towards the hard one so that `want` of them, plus `slack` for what the
// process (and any child that inherits the limit) already holds, fit; on a machine whose hard
// limit is lower they test as many as fit instead of failing on EMFILE.
#pragma once

#include <algorithm>
#include <cstddef>

#ifndef _WIN32
#include <sys/resource.h>
#endif

namespace volley::test {

inline std::size_t fd_budget(std::size_t want, [[maybe_unused]] std::size_t slack) {  // unused on Windows
#ifndef _WIN32
  rlimit limit{};
  if (getrlimit(RLIMIT_NOFILE, &limit) != 0) return want;
  const auto need = static_cast<rlim_t>(want + slack);
  if (limit.rlim_cur < need) {
    limit.rlim_cur = std::min(need, limit.rlim_max);
    setrlimit(RLIMIT_NOFILE, &limit);
    getrlimit(RLIMIT_NOFILE, &limit);
  }
  if (limit.rlim_cur < need) {
    return limit.rlim_cur > slack ? static_cast<std::size_t>(limit.rlim_cur - slack) : 1;
  }
#endif
  return want;
}

}  // namespace volley::test
