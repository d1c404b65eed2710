// Packet throttle and window sizing (peer.c enet_peer_throttle; protocol.c
// enet_protocol_check_outgoing_commands, enet_protocol_handle_connect and
// enet_protocol_handle_bandwidth_limit; host.c enet_host_connect).
#pragma once

#include <cstdint>

namespace volley::protocol::detail {

inline constexpr std::uint32_t kThrottleScale = 32;    // ENET_PEER_PACKET_THROTTLE_SCALE
inline constexpr std::uint32_t kThrottleCounterStep = 7;  // ENET_PEER_PACKET_THROTTLE_COUNTER
inline constexpr std::uint32_t kDefaultThrottle = 32;  // ENET_PEER_DEFAULT_PACKET_THROTTLE
inline constexpr std::uint32_t kWindowSizeScale = 65536;  // ENET_PEER_WINDOW_SIZE_SCALE

struct RttState;

struct ThrottleState {
  std::uint32_t throttle = kDefaultThrottle;
  std::uint32_t limit = kThrottleScale;
  std::uint32_t counter = 0;
  std::uint32_t interval_ms = 5000;
  std::uint32_t acceleration = 2;
  std::uint32_t deceleration = 2;
};

// enet_peer_throttle: +1 accelerated, -1 decelerated, 0 unchanged.
int throttle_on_rtt(ThrottleState& throttle, const RttState& rtt, std::uint32_t sample_ms);

// Advances the drop counter for one unreliable payload; true = drop it.
bool throttle_drops_next(ThrottleState& throttle);

// Bytes of reliable payload allowed in flight: max(throttle * window / 32, mtu).
std::uint32_t reliable_byte_window(const ThrottleState& throttle, std::uint32_t window_size,
                                   std::uint32_t mtu);

// The window this side may have in flight towards a peer, from the host's outgoing and the
// peer's incoming bandwidth (handle_connect step 8 and handle_bandwidth_limit).
std::uint32_t send_window_for(std::uint32_t host_outgoing_bandwidth,
                              std::uint32_t peer_incoming_bandwidth);

// The window a server offers in VERIFY_CONNECT (handle_connect step 9).
std::uint32_t offered_window(std::uint32_t host_incoming_bandwidth, std::uint32_t requested_window);

// The window a client announces in CONNECT (enet_host_connect).
std::uint32_t connect_window(std::uint32_t host_outgoing_bandwidth);

std::uint32_t clamp_window(std::uint32_t window);

}  // namespace volley::protocol::detail
