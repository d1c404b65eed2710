// Packet throttle and window sizing; see throttle.hpp for the libenet functions mirrored.
#include "throttle.hpp"

#include <algorithm>

#include "rtt.hpp"
#include "volley/protocol/enet_wire.hpp"

namespace volley::protocol::detail {

int throttle_on_rtt(ThrottleState& t, const RttState& rtt, std::uint32_t sample_ms) {
  // A jittery link (mean below its variance) gets no throttling at all.
  if (rtt.last_rtt_ms <= rtt.last_variance_ms) {
    t.throttle = t.limit;
    return 0;
  }
  if (sample_ms <= rtt.last_rtt_ms) {
    t.throttle = std::min(t.throttle + t.acceleration, t.limit);
    return 1;
  }
  if (sample_ms > rtt.last_rtt_ms + 2 * rtt.last_variance_ms) {
    t.throttle = t.throttle > t.deceleration ? t.throttle - t.deceleration : 0;
    return -1;
  }
  return 0;
}

bool throttle_drops_next(ThrottleState& t) {
  t.counter = (t.counter + kThrottleCounterStep) % kThrottleScale;
  return t.counter > t.throttle;
}

std::uint32_t reliable_byte_window(const ThrottleState& t, std::uint32_t window_size,
                                   std::uint32_t mtu) {
  return std::max(t.throttle * window_size / kThrottleScale, mtu);
}

std::uint32_t clamp_window(std::uint32_t window) {
  return std::clamp(window, kMinWindowSize, kMaxWindowSize);
}

std::uint32_t send_window_for(std::uint32_t host_out, std::uint32_t peer_in) {
  if (host_out == 0 && peer_in == 0) return kMaxWindowSize;
  const std::uint32_t bw = (host_out == 0 || peer_in == 0) ? std::max(host_out, peer_in)
                                                           : std::min(host_out, peer_in);
  return clamp_window((bw / kWindowSizeScale) * kMinWindowSize);
}

std::uint32_t offered_window(std::uint32_t host_in, std::uint32_t requested) {
  std::uint32_t window =
      host_in == 0 ? kMaxWindowSize : (host_in / kWindowSizeScale) * kMinWindowSize;
  window = std::min(window, requested);
  return clamp_window(window);
}

std::uint32_t connect_window(std::uint32_t host_out) {
  if (host_out == 0) return kMaxWindowSize;
  return clamp_window((host_out / kWindowSizeScale) * kMinWindowSize);
}

}  // namespace volley::protocol::detail
