// Host-wide statistics, maintained incrementally: after each Peer call the Host adds what that
// peer's counters gained since they were last seen, so the totals never require a scan of the
// slot table. Also the drop reasons that only the Host can see (before a datagram reaches any
// Peer). The public ServerStats are assembled from these in server_stats.cpp; the stats JSON is
// written by volley-server (server/app/report.cpp).
#pragma once

#include <array>
#include <cstdint>
#include <string>
#include <string_view>

#include "volley/protocol/counters.hpp"

namespace volley::server {

enum class HostDrop : std::uint8_t {
  kTruncatedHeader,       // too short for an ENet header
  kUnknownPeer,           // no live slot for (source address, peer id), none released lately
  kDepartedPeer,          // (address, id) released within kDepartedLingerUs: late, not bad
  kBadConnect,            // id 0xFFF but no decodable CONNECT
  kBadChannelCount,       // a CONNECT asking for 0 or more than 255 channels
  kRetransmittedConnect,  // same address and connectID as a live slot: its VERIFY covers it
  kRefusedFull,           // every slot in use
  kRefusedPerIp,          // the per-IP cap (ENet's duplicatePeers) reached
  kRefusedShutdown,       // CONNECT while the server is stopping
  // The stateless handshake (docs/handshake.md):
  kHandshakeRateGlobal,      // no reply: the global budget of replies before proof is spent
  kHandshakeRateAddress,     // no reply: this client IP's budget is spent
  kHandshakeReplyTooLarge,   // no reply: it would have been larger than its request
  kHandshakeWrongCookie,     // session bits or echoed sent time differ: the entry is dropped
  kHandshakeBadDatagram,     // to a half-open entry, but fails CRC, decompression or parsing
  kAddressFull,              // every id of this client address is in use
  kCount
};
inline constexpr std::size_t kHostDropCount = static_cast<std::size_t>(HostDrop::kCount);
std::string_view host_drop_name(HostDrop drop) noexcept;

// The handshake's own figures (its drops are HostDrop reasons).
struct HandshakeStats {
  std::uint64_t entries_created = 0;  // CONNECTs that got a half-open entry
  std::uint64_t verifies_sent = 0;    // first VERIFY_CONNECT of an entry
  std::uint64_t verifies_resent = 0;  // the same VERIFY again, for a resent CONNECT
  std::uint64_t probes_sent = 0;      // cookie-bearing PINGs after a lost ACK
  std::uint64_t completed = 0;        // proofs that became Peers
  std::uint64_t half_open_peak = 0;   // most entries at once
  std::uint64_t half_open = 0;        // entries now
  std::uint64_t evicted = 0;          // entries pushed out by newer ones (table full)
  std::uint64_t expired = 0;          // entries that outlived HandshakeConfig::entry_lifetime
};

struct HostStats {
  // Sum over every peer call (traffic and per-peer drop reasons): summed over the slots' pooled
  // Peers when the stats are asked for (Host::stats), never per datagram.
  protocol::Counters peers;
  std::array<std::uint64_t, kHostDropCount> drops{};
  std::uint64_t datagrams_routed = 0;  // reached a Peer
  std::uint64_t connects = 0;          // connect events
  std::uint64_t disconnects = 0;       // remote sent DISCONNECT
  std::uint64_t timeouts = 0;
  std::uint64_t local_disconnects = 0; // our disconnect() completed
  std::uint64_t refusals_sent = 0;     // fast-refusal datagrams
  std::uint64_t batches = 0;           // on_datagrams calls
  std::uint64_t peers_serviced = 0;    // service passes over touched peers
  std::uint64_t timer_fires = 0;
  std::uint64_t timer_fires_early = 0;  // before the peer's deadline, which had moved later: re-armed only
  std::uint64_t connected = 0;         // now
  std::uint64_t connected_peak = 0;
  HandshakeStats handshake;
  // Table sizes now: remembered departed (address, id)s, per-IP counts, Peer slots ever made
  // (the pool; slots are reused, never freed). Every table a remote fills has its gauge here,
  // so a churn run can show them back at their baseline (docs/attacks.md).
  std::uint64_t departed_ids = 0;
  std::uint64_t per_ip_addresses = 0;
  std::uint64_t slots_allocated = 0;

  void drop(HostDrop reason) noexcept { drops[static_cast<std::size_t>(reason)] += 1; }
  std::uint64_t operator[](HostDrop reason) const noexcept {
    return drops[static_cast<std::size_t>(reason)];
  }
  // Datagrams dropped as malformed, misrouted or unverifiable (not retransmissions, refusals or
  // per-command drops inside an accepted datagram).
  std::uint64_t bad_datagrams() const noexcept;
};

// Adds every counter of `counters` to `totals`.
void add_counters(const protocol::Counters& counters, protocol::Counters& totals) noexcept;

}  // namespace volley::server
