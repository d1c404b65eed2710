// ReplyLimiter: GCRA, as in ATM traffic policing: a reply at `now` conforms when the theoretical
// arrival time (TAT) is at most now + tolerance; a conforming reply moves the TAT one interval
// on from max(TAT, now).
#include "reply_limiter.hpp"

#include <algorithm>

#include "address_bytes.hpp"

namespace volley::server {

ReplyLimiter::Gcra ReplyLimiter::make(RateLimit limit) {
  Gcra g;
  if (limit.per_second == 0) return g;
  g.interval = std::max<TimePoint>(volley::kSecond / limit.per_second, 1);
  g.tolerance = g.interval * (std::max<std::uint32_t>(limit.burst, 1) - 1);
  return g;
}

ReplyLimiter::ReplyLimiter(RateLimit global, RateLimit per_ip, std::size_t address_buckets, const SipKey& key)
    : global_(make(global)),
      per_ip_(make(per_ip)),
      global_on_(global.per_second != 0),
      per_ip_on_(per_ip.per_second != 0),
      key_(key) {
  std::size_t buckets = 1;
  while (buckets < address_buckets) buckets <<= 1;
  ip_mask_ = buckets - 1;
  if (per_ip_on_) ip_tat_.assign(buckets, 0);
}

Limited ReplyLimiter::take(TimePoint now, const engine::Address& from) {
  TimePoint* ip_tat = nullptr;
  if (per_ip_on_ && !is_loopback(from)) {
    AddressBytes ip(from, false);
    ip.append_u8(0x1A);  // domain separation from the table's hashes
    ip_tat = &ip_tat_[siphash24(key_, ip.bytes()) & ip_mask_];
    if (!per_ip_.allows(now, *ip_tat)) return Limited::kAddress;
  }
  if (global_on_) {
    if (!global_.allows(now, global_tat_)) return Limited::kGlobal;
    global_tat_ = std::max(global_tat_, now) + global_.interval;
  }
  if (ip_tat) *ip_tat = std::max(*ip_tat, now) + per_ip_.interval;
  return Limited::kNo;
}

}  // namespace volley::server
