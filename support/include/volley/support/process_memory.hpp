// The one reader of this process's resident memory, for volley-server's /metrics.
#pragma once

#include <cstdint>

namespace volley::support {

// Resident set size in bytes; 0 when the OS cannot say (only Linux is read).
std::uint64_t process_rss_bytes() noexcept;

}  // namespace volley::support
