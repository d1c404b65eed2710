// Settings of one protocol Peer: the host-level values libenet keeps on ENetHost (MTU, bandwidth,
// channel limit, CRC and range-coder mode), the per-peer knob defaults, and a limit on everything
// the remote side controls. libenet_defaults() reproduces libenet 1.3.17; server_defaults() is
// what a public server should use: same wire behaviour, smaller memory exposure.
#pragma once

#include <cstddef>
#include <cstdint>
#include <limits>

#include "volley/protocol/enet_wire.hpp"

namespace volley::protocol {

// Bytes that many peers draw on together (a server Host's total of undelivered received data).
// Peers are single-threaded with their owner, so a plain count shared by pointer suffices; the
// owner keeps it alive longer than every peer that uses it.
struct SharedBudget {
  std::size_t used = 0;
  std::size_t limit = std::numeric_limits<std::size_t>::max();
};

// What each queued command costs against PeerConfig::max_queued_data besides its payload share:
// about its list node and bookkeeping, so a flood of tiny packets is bounded too.
inline constexpr std::size_t kQueuedCommandCost = 64;

// Which quiet spell earns the remote a keepalive PING (enet-protocol.md section 7). Both speak
// plain ENet: the PING is an ordinary reliable command, and the timeout rule is unchanged.
enum class KeepalivePolicy : std::uint8_t {
  // libenet 1.3.17: no ACK for ping_interval_ms, and nothing reliable in flight. An idle
  // stock client pings on this rule, so both sides of an idle link ping every ~interval.
  kLibenet,
  // No datagram at all for kSilentPingFactor x ping_interval_ms + the RTT estimate (counted up
  // to that same product), and
  // nothing reliable in flight. A remote pinging on libenet's rule (every interval + RTT + its
  // service delay) is not pinged back while its service delay stays under one interval; our
  // ACKs of its PINGs satisfy its timeout rule. A silent remote is pinged and then ends by the
  // usual timeout, at most one interval + RTT later than under kLibenet. The cost: an idle
  // remote's RTT estimate here is no longer refreshed (its PINGs carry no sample for us).
  kWhenSilent,
};
inline constexpr std::uint32_t kSilentPingFactor = 2;

struct PeerConfig {
  // --- wire mode: never negotiated, must match the remote host's configuration -------------
  bool checksum = false;  // host->checksum = enet_crc32
  bool compress = false;  // enet_host_compress_with_range_coder

  // --- host settings ---------------------------------------------------------------------------
  // Client role: the MTU offered in CONNECT. Server role: a cap on the negotiated MTU (libenet
  // 1.3.17 ignores its own MTU there; the client adopts any smaller value, enet-protocol.md 3.1.7).
  std::uint32_t mtu = kDefaultMtu;
  std::uint32_t channel_limit = kMaxChannelCount;  // server: channels = min(requested, limit)
  std::uint32_t incoming_bandwidth = 0;            // bytes/s, 0 = unlimited
  std::uint32_t outgoing_bandwidth = 0;

  // --- limits on what the remote controls ----------------------------------------------------
  std::uint32_t max_packet_size = kDefaultMaxPacketSize;  // payload and fragment totalLength
  std::size_t max_waiting_data = 32u * 1024 * 1024;       // queued + undelivered payload bytes
  std::uint32_t max_fragment_count = kMaxFragmentCount;
  std::size_t max_queued_acks = 65536;                    // acks owed but not yet polled out
  // Commands received out of order and held until the gap fills (every channel together). Each
  // costs a list node whatever its payload, and ENet's window lets a sender run ~28,000 ahead.
  std::size_t max_held_commands = std::numeric_limits<std::size_t>::max();
  // send() refuses (SendResult::kQueueFull) once this many bytes wait unsent or unacknowledged:
  // payload plus kQueuedCommandCost per command, so a remote that stops acknowledging cannot
  // make us queue without bound. libenet has no such limit.
  std::size_t max_queued_data = std::numeric_limits<std::size_t>::max();
  // Optional: the undelivered bytes of this peer also count against a budget shared with others.
  SharedBudget* shared_waiting = nullptr;

  // --- per-peer knob defaults (enet_peer_ping_interval / _timeout / _throttle_configure) --------
  std::uint32_t ping_interval_ms = 500;
  KeepalivePolicy keepalive = KeepalivePolicy::kLibenet;
  std::uint32_t timeout_limit = 32;
  std::uint32_t timeout_minimum_ms = 5000;
  std::uint32_t timeout_maximum_ms = 30000;
  // Not in libenet, whose resend interval doubles without bound: a cap on it (0 = none), so a
  // command meeting k losses in a row waits about k caps, not 2^k RTOs. A cap below
  // timeout_limit x the first RTO leaves only timeout_maximum_ms without any ACK to end a peer.
  std::uint32_t rto_cap_ms = 0;
  std::uint32_t throttle_interval_ms = 5000;
  std::uint32_t throttle_acceleration = 2;
  std::uint32_t throttle_deceleration = 2;

  static constexpr PeerConfig libenet_defaults() noexcept { return PeerConfig{}; }

  // Public-server defaults: 4 MiB packets (about 3,000 fragments at MTU 1400, far below the
  // ~28,000 a stock sender can complete), 8 MiB of undelivered data per peer, fragment count
  // bounded by the packet size at the minimum MTU, 4,096 commands held out of order (a lossy
  // client sending small reliable packets holds tens; what is refused is simply resent), and
  // 8 MiB queued for sending (two maximum-size packets).
  static constexpr PeerConfig server_defaults() noexcept {
    PeerConfig c;
    c.max_packet_size = 4u * 1024 * 1024;
    c.max_waiting_data = 8u * 1024 * 1024;
    c.max_fragment_count = 8192;
    c.max_queued_acks = 4096;
    c.max_held_commands = 4096;
    c.max_queued_data = 8u * 1024 * 1024;
    return c;
  }
};

}  // namespace volley::protocol
