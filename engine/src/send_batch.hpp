// Send batching policy shared by the Linux backends: which consecutive queued datagrams can go
// to the kernel as one UDP GSO message (same destination, same size, only the last may be
// shorter). ENet fragments of one snapshot to one client are exactly such runs, and so is any
// burst to a single peer; the kernel then builds, routes and queues one large packet instead of
// one per datagram.
#pragma once

#include <cstddef>
#include <span>

#include "send_pool.hpp"

namespace volley::engine {

// Linux caps a GSO message at 64 segments (UDP_MAX_SEGMENTS on older kernels) and 64 KiB.
inline constexpr std::size_t kMaxGsoSegments = 64;
inline constexpr std::size_t kMaxGsoBytes = 65000;
// The kernel refuses GSO (EINVAL) when a segment exceeds the route MTU, where a plain send
// would have been IP-fragmented; datagrams that fit a 1500-byte IPv6 path are the only ones
// merged, so ENet-sized traffic qualifies and jumbo datagrams keep their old behaviour.
inline constexpr std::size_t kMaxGsoSegmentBytes = 1452;

// Number of ops at the front of `ops` that form one GSO message (at least 1 if ops is non-empty):
// same socket, same destination.
inline std::size_t gso_run(std::span<SendOp* const> ops, std::size_t max_segments) {
  if (ops.empty()) return 0;
  const SendOp& first = *ops[0];
  std::size_t n = 1;
  std::size_t bytes = first.size;
  const std::size_t limit = max_segments < kMaxGsoSegments ? max_segments : kMaxGsoSegments;
  while (n < ops.size() && n < limit && first.size > 0 && first.size <= kMaxGsoSegmentBytes) {
    const SendOp& next = *ops[n];
    if (next.size > first.size || next.size == 0 || bytes + next.size > kMaxGsoBytes ||
        next.socket_slot != first.socket_slot || !(next.to == first.to)) {
      break;
    }
    bytes += next.size;
    ++n;
    if (next.size < first.size) break;  // a shorter segment can only be the last
  }
  return n;
}

}  // namespace volley::engine
