// Round-trip estimation exactly as libenet's enet_protocol_handle_acknowledge computes it: integer
// milliseconds, 1/8 gain on the mean, 1/4 on the variance, and lowest-RTT / highest-variance
// tracking per throttle interval (the inputs of the packet throttle).
#pragma once

#include <cstdint>
#include <optional>

#include "volley/protocol/time.hpp"

namespace volley::protocol::detail {

inline constexpr std::uint32_t kDefaultRoundTripTimeMs = 500;  // ENET_PEER_DEFAULT_ROUND_TRIP_TIME

struct RttState {
  std::uint32_t rtt_ms = kDefaultRoundTripTimeMs;
  std::uint32_t variance_ms = 0;
  std::uint32_t lowest_ms = kDefaultRoundTripTimeMs;
  std::uint32_t highest_variance_ms = 0;
  std::uint32_t last_rtt_ms = kDefaultRoundTripTimeMs;
  std::uint32_t last_variance_ms = 0;
  std::optional<TimePoint> throttle_epoch;
};

struct ThrottleState;

// Rebuilds the 32-bit send time from the echoed low 16 bits; nullopt when it lies in the future
// (libenet ignores such an ACK entirely).
std::optional<std::uint32_t> rtt_sample_ms(std::uint32_t now_ms, std::uint16_t echoed_sent_time);

// Applies one sample. `first` = no ACK received yet on this connection (libenet:
// lastReceiveTime == 0): the sample replaces the estimate and the throttle is not consulted.
void rtt_apply_sample(RttState& rtt, ThrottleState& throttle, std::uint32_t sample_ms, bool first,
                      TimePoint now);

// Initial retransmission timeout of a command sent now: rtt + 4 var.
inline std::uint32_t initial_rto_ms(const RttState& rtt) { return rtt.rtt_ms + 4 * rtt.variance_ms; }

}  // namespace volley::protocol::detail
