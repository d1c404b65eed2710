// Reliable-window arithmetic of libenet (peer.c enet_peer_queue_incoming_command and
// enet_peer_queue_acknowledgement; protocol.c enet_protocol_check_outgoing_commands). The 16-bit
// sequence space is cut into 16 windows of 4096; distances are counted in windows, never with a
// plain `<` on sequence numbers, so wrap-around is handled by construction.
#pragma once

#include <cstddef>
#include <cstdint>

namespace volley::protocol::detail {

inline constexpr std::uint16_t kReliableWindows = 16;
inline constexpr std::uint16_t kReliableWindowSize = 4096;
inline constexpr std::uint16_t kFreeReliableWindows = 8;
inline constexpr std::uint32_t kUnsequencedWindowSize = 1024;
inline constexpr std::uint32_t kFreeUnsequencedWindows = 32;
inline constexpr std::size_t kUnsequencedWindowWords = kUnsequencedWindowSize / 32;

// Window distance d of sequence `r` from the channel's last delivered `current` (0..16).
constexpr int window_distance(std::uint16_t r, std::uint16_t current) noexcept {
  int reliable_window = r / kReliableWindowSize;
  if (r < current) reliable_window += kReliableWindows;
  return reliable_window - current / kReliableWindowSize;
}

// Accepted into the receive queues: d <= 6 (libenet: window < current + FREE - 1).
constexpr bool in_receive_window(std::uint16_t r, std::uint16_t current) noexcept {
  const int d = window_distance(r, current);
  return d >= 0 && d < kFreeReliableWindows - 1;
}

// Too far ahead to acknowledge: d of 7 or 8, so the sender retries later.
constexpr bool ack_withheld(std::uint16_t r, std::uint16_t current) noexcept {
  const int d = window_distance(r, current);
  return d >= kFreeReliableWindows - 1 && d <= kFreeReliableWindows;
}

// Ordering key inside a channel's receive queue: distance ahead of `current`, modulo 2^16.
constexpr std::uint16_t ahead_of(std::uint16_t r, std::uint16_t current) noexcept {
  return static_cast<std::uint16_t>(r - current);
}

// libenet time.h: a is before b iff (u32)(a - b) >= 86 400 000.
inline constexpr std::uint32_t kEnetTimeOverflow = 86400000;
constexpr bool enet_time_less(std::uint32_t a, std::uint32_t b) noexcept {
  return a - b >= kEnetTimeOverflow;
}
constexpr std::uint32_t enet_time_difference(std::uint32_t a, std::uint32_t b) noexcept {
  return a - b >= kEnetTimeOverflow ? b - a : a - b;
}

}  // namespace volley::protocol::detail
