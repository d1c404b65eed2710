// process_rss_bytes(): the second field of /proc/self/statm (resident pages) times the page size.
#include "volley/support/process_memory.hpp"

#if defined(__linux__)
#include <unistd.h>

#include <cstdio>
#endif

namespace volley::support {

std::uint64_t process_rss_bytes() noexcept {
#if defined(__linux__)
  std::FILE* file = std::fopen("/proc/self/statm", "r");
  if (file == nullptr) return 0;
  unsigned long long size = 0, resident = 0;
  const int fields = std::fscanf(file, "%llu %llu", &size, &resident);
  std::fclose(file);
  const long page = sysconf(_SC_PAGESIZE);
  if (fields != 2 || page <= 0) return 0;
  return resident * static_cast<std::uint64_t>(page);
#else
  return 0;
#endif
}

}  // namespace volley::support
