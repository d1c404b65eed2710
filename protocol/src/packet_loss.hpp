// Packet-loss statistics over 10 s epochs (protocol.c enet_protocol_send_outgoing_commands,
// enet-protocol.md section 11): informational, reported in PeerStats, never steers sending.
#pragma once

#include <cstdint>
#include <optional>

#include "volley/protocol/time.hpp"

namespace volley::protocol::detail {

inline constexpr std::uint32_t kPacketLossScale = 65536;  // ENET_PEER_PACKET_LOSS_SCALE
inline constexpr std::uint32_t kPacketLossIntervalMs = 10000;

class PacketLoss {
 public:
  void on_sent() noexcept { ++sent_; }
  void on_lost(std::uint32_t count) noexcept { lost_ += count; }
  // Called once per datagram sent: closes the epoch when 10 s have passed since it began.
  void update(TimePoint now) noexcept;
  void reset() noexcept { *this = PacketLoss{}; }

  std::uint32_t loss() const noexcept { return loss_; }          // mean, scaled by 65536
  std::uint32_t variance() const noexcept { return variance_; }

 private:
  void begin_epoch(TimePoint now) noexcept;

  // The instant the current epoch may close: the first whole millisecond at least 10 s after
  // the epoch began (libenet compares millisecond counts), kept as a time so that the check
  // made for every datagram divides nothing.
  std::optional<TimePoint> close_at_;
  std::uint32_t sent_ = 0;
  std::uint32_t lost_ = 0;
  std::uint32_t loss_ = 0;
  std::uint32_t variance_ = 0;
};

}  // namespace volley::protocol::detail
