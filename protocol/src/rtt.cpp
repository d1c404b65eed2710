// RTT estimator; see rtt.hpp. Mirrors protocol.c enet_protocol_handle_acknowledge steps 2-7 of
// enet-protocol.md section 5, in libenet's unsigned millisecond arithmetic.
#include "rtt.hpp"

#include <algorithm>

#include "seq.hpp"
#include "throttle.hpp"

namespace volley::protocol::detail {

std::optional<std::uint32_t> rtt_sample_ms(std::uint32_t now_ms, std::uint16_t echoed_sent_time) {
  // The peer echoes only 16 bits; borrow the high half from now, one 65.536 s period back when
  // the echoed value is in the upper half and now is not.
  std::uint32_t sent = echoed_sent_time | (now_ms & 0xFFFF0000u);
  if ((sent & 0x8000u) > (now_ms & 0x8000u)) sent -= 0x10000u;
  if (enet_time_less(now_ms, sent)) return std::nullopt;
  return std::max<std::uint32_t>(enet_time_difference(now_ms, sent), 1);
}

void rtt_apply_sample(RttState& rtt, ThrottleState& throttle, std::uint32_t sample_ms, bool first,
                      TimePoint now) {
  if (first) {
    rtt.rtt_ms = sample_ms;
    rtt.variance_ms = (sample_ms + 1) / 2;
  } else {
    throttle_on_rtt(throttle, rtt, sample_ms);
    rtt.variance_ms -= rtt.variance_ms / 4;
    if (sample_ms >= rtt.rtt_ms) {
      const std::uint32_t diff = sample_ms - rtt.rtt_ms;
      rtt.variance_ms += diff / 4;
      rtt.rtt_ms += diff / 8;
    } else {
      const std::uint32_t diff = rtt.rtt_ms - sample_ms;
      rtt.variance_ms += diff / 4;
      rtt.rtt_ms -= diff / 8;
    }
  }
  rtt.lowest_ms = std::min(rtt.lowest_ms, rtt.rtt_ms);
  rtt.highest_variance_ms = std::max(rtt.highest_variance_ms, rtt.variance_ms);

  // A new throttle interval starts: the extremes of the last one become the throttle's reference.
  if (!rtt.throttle_epoch ||
      enet_time_difference(enet_ms(now), enet_ms(*rtt.throttle_epoch)) >= throttle.interval_ms) {
    rtt.last_rtt_ms = rtt.lowest_ms;
    rtt.last_variance_ms = std::max<std::uint32_t>(rtt.highest_variance_ms, 1);
    rtt.lowest_ms = rtt.rtt_ms;
    rtt.highest_variance_ms = rtt.variance_ms;
    rtt.throttle_epoch = now;
  }
}

}  // namespace volley::protocol::detail
