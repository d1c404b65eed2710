// Rate limits on the replies the server sends before a client has proved its address (VERIFY,
// the lost-ACK probe, fast refusals): one global budget, which bounds the bandwidth a spoofer can
// make us spend, and one per client IP (every port), so one source cannot take the global budget
// from everyone else. Each limit is a GCRA (a token bucket stored as one "theoretical arrival
// time"). Loopback sources (127.0.0.0/8, ::1) have no per-IP limit: they can only be this
// machine, where tests and benchmarks run thousands of clients from 127.0.0.1. The per-IP limits
// live in a fixed array indexed by a keyed hash of the IP, so memory is constant whatever the
// number of sources, and a spoofer cannot aim collisions at a victim's IP.
#pragma once

#include <cstdint>
#include <vector>

#include "siphash.hpp"
#include "volley/engine/udp.hpp"
#include "volley/protocol/time.hpp"

namespace volley::server {

struct RateLimit {
  std::uint32_t per_second = 0;  // 0 = unlimited
  std::uint32_t burst = 1;       // replies allowed back to back
};

enum class Limited : std::uint8_t { kNo, kAddress, kGlobal };

class ReplyLimiter {
 public:
  // Per-IP buckets shared through the hash (rounded up to a power of two); the Host's default,
  // 65,536, keeps a 100,000/s random-source flood at about 1.5 replies/s per bucket, far under
  // any sensible per-IP rate.
  ReplyLimiter(RateLimit global, RateLimit per_ip, std::size_t address_buckets, const SipKey& key);
  // Takes one reply from both budgets, or none when either is empty.
  Limited take(TimePoint now, const engine::Address& from);

 private:
  struct Gcra {
    TimePoint interval = 0;   // microseconds per reply
    TimePoint tolerance = 0;  // (burst - 1) intervals
    bool allows(TimePoint now, TimePoint tat) const noexcept { return tat <= now + tolerance; }
  };
  static Gcra make(RateLimit limit);

  Gcra global_;
  Gcra per_ip_;
  bool global_on_;
  bool per_ip_on_;
  TimePoint global_tat_ = 0;
  std::vector<TimePoint> ip_tat_;
  std::size_t ip_mask_ = 0;
  SipKey key_;
};

}  // namespace volley::server
