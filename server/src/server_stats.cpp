// make_peer_stats / make_server_stats: field-by-field copies (the public structs must not expose
// protocol or engine types), and the `details` list of named drop and loop counters.
#include "server_stats.hpp"

#include <array>
#include <optional>
#include <string>

#include "bucket_counts.hpp"

namespace volley::server {

PeerStats make_peer_stats(const protocol::Peer& peer, const engine::Address& address) {
  const protocol::PeerStats s = peer.stats();
  const protocol::Counters& k = peer.counters();
  PeerStats out;
  out.address = address.to_string();
  out.rtt_ms = s.rtt_ms;
  out.rtt_variance_ms = s.rtt_variance_ms;
  out.packet_loss = static_cast<double>(s.packet_loss) / 65536.0;
  out.packet_throttle = s.packet_throttle;
  out.mtu = s.mtu;
  out.channels = s.channel_count;
  out.packets_in = k[protocol::Counter::kPacketsIn];
  out.packets_out = k[protocol::Counter::kPacketsOut];
  out.bytes_in = k[protocol::Counter::kPayloadBytesIn];
  out.bytes_out = k[protocol::Counter::kPayloadBytesOut];
  out.datagrams_in = k[protocol::Counter::kDatagramsIn];
  out.datagrams_out = k[protocol::Counter::kDatagramsOut];
  return out;
}

namespace {

// The Host's refusal drops are the refusals by their wire reason.
std::optional<RefusalCode> refusal_code(HostDrop drop) {
  switch (drop) {
    case HostDrop::kRefusedFull: return RefusalCode::kFull;
    case HostDrop::kRefusedPerIp: return RefusalCode::kPerIp;
    case HostDrop::kRefusedShutdown: return RefusalCode::kShuttingDown;
    default: return std::nullopt;
  }
}

constexpr std::array<double, 10> kRttBoundsS = {0.001, 0.0025, 0.005, 0.01, 0.025,
                                                0.05,  0.1,    0.25,  0.5,  1.0};

}  // namespace

void add_connected_peers(ServerStats& s, const Host& host) {
  BucketCounts rtt(kRttBoundsS);
  host.for_each_connected([&](const protocol::Peer& peer) {
    const protocol::PeerStats p = peer.stats();
    rtt.add(static_cast<double>(p.rtt_ms) / 1000.0);
    s.send_queued += p.queued_outgoing;
    s.send_unacked += p.sent_unacked;
  });
  s.peer_rtt_seconds = rtt.histogram();
}

ServerStats make_server_stats(const HostStats& h, const DeadlineOps& d, const engine::Stats& l,
                              const TickStats& t) {
  using protocol::Counter;
  ServerStats s;
  s.connects = h.connects;
  s.disconnects = h.disconnects;
  s.timeouts = h.timeouts;
  s.packets_in = h.peers[Counter::kPacketsIn];
  s.packets_out = h.peers[Counter::kPacketsOut];
  s.bytes_in = h.peers[Counter::kPayloadBytesIn];
  s.bytes_out = h.peers[Counter::kPayloadBytesOut];
  // Too large for the receive buffer is received and bad: counted in both, so bad <= received.
  s.datagrams_in = l[engine::Counter::kDatagramsIn] + l[engine::Counter::kTruncated];
  s.datagrams_out = l[engine::Counter::kDatagramsOut];
  s.bad_datagrams = h.bad_datagrams() + l[engine::Counter::kTruncated];
  s.peers_now = h.connected;
  s.peers_peak = h.connected_peak;
  auto& x = s.details;
  for (std::size_t i = 0; i < kHostDropCount; ++i) {
    const auto drop = static_cast<HostDrop>(i);
    x.emplace_back(std::string(host_drop_name(drop)), h.drops[i]);
    if (const auto code = refusal_code(drop)) {
      s.refusals.emplace_back(std::string(refusal_code_name(*code)), h.drops[i]);
    } else {
      s.drops.emplace_back(std::string(host_drop_name(drop).substr(5)), h.drops[i]);
    }
  }
  for (std::size_t i = 0; i < protocol::kCounterCount; ++i) {
    const auto c = static_cast<Counter>(i);
    const std::string_view name = protocol::counter_name(c);
    if (name.starts_with("drop_") || c == Counter::kRetransmits || c == Counter::kThrottleDropped ||
        c == Counter::kPingsOut) {
      x.emplace_back(std::string(name), h.peers[c]);
    }
    if (name.starts_with("drop_")) s.drops.emplace_back(std::string(name.substr(5)), h.peers[c]);
  }
  s.drops.emplace_back("loop_truncated", l[engine::Counter::kTruncated]);
  x.emplace_back("local_disconnects", h.local_disconnects);
  x.emplace_back("refusals_sent", h.refusals_sent);
  x.emplace_back("handshake_entries_created", h.handshake.entries_created);
  x.emplace_back("handshake_verifies_sent", h.handshake.verifies_sent);
  x.emplace_back("handshake_verifies_resent", h.handshake.verifies_resent);
  x.emplace_back("handshake_probes_sent", h.handshake.probes_sent);
  x.emplace_back("handshake_completed", h.handshake.completed);
  x.emplace_back("handshake_half_open_peak", h.handshake.half_open_peak);
  x.emplace_back("handshake_half_open", h.handshake.half_open);
  x.emplace_back("handshake_evicted", h.handshake.evicted);
  x.emplace_back("handshake_expired", h.handshake.expired);
  x.emplace_back("departed_ids", h.departed_ids);
  x.emplace_back("per_ip_addresses", h.per_ip_addresses);
  x.emplace_back("slots_allocated", h.slots_allocated);
  x.emplace_back("recv_batches", h.batches);
  x.emplace_back("peers_serviced", h.peers_serviced);
  x.emplace_back("timer_fires", h.timer_fires);
  x.emplace_back("timer_fires_early", h.timer_fires_early);
  x.emplace_back("timers_armed", d.armed);
  x.emplace_back("timers_moved", d.moved);
  x.emplace_back("timers_deferred", d.deferred);
  x.emplace_back("timers_disarmed", d.disarmed);
  for (std::size_t i = 0; i < static_cast<std::size_t>(engine::Counter::kCount); ++i) {
    const auto c = static_cast<engine::Counter>(i);
    x.emplace_back("loop_" + std::string(engine::counter_name(c)), l[c]);
  }
  x.emplace_back("ticks", t.ticks);
  x.emplace_back("ticks_late", t.ticks_late);
  if (t.sender != nullptr) {
    const SenderCounters& k = *t.sender;
    x.emplace_back("snapshot_frames", k.frames);
    x.emplace_back("snapshots_full", k.snapshots_full);
    x.emplace_back("snapshots_delta", k.snapshots_delta);
    x.emplace_back("snapshot_bytes", k.snapshot_bytes);
    const std::uint64_t sent = k.snapshots_full + k.snapshots_delta;
    x.emplace_back("snapshot_bytes_per_snapshot", sent == 0 ? 0 : k.snapshot_bytes / sent);
    x.emplace_back("snapshot_encodes", k.encodes);
    x.emplace_back("snapshot_encodes_shared", k.encodes_shared);
    x.emplace_back("snapshot_encodes_skipped", k.encodes_skipped);
    x.emplace_back("snapshot_budget_trimmed", k.budget_trimmed);
    x.emplace_back("snapshot_budget_skipped", k.budget_skipped);
    x.emplace_back("snapshots_deferred", k.snapshots_deferred);
    x.emplace_back("snapshot_stride", k.stride);
    x.emplace_back("snapshot_encode_failed", k.encode_failed);
    x.emplace_back("snapshot_send_failed", t.snapshot_send_failed);
    x.emplace_back("events_raised", k.events_raised);
    x.emplace_back("events_pending", k.events_pending);
    x.emplace_back("events_undeliverable", k.events_undeliverable);
    x.emplace_back("acks_stale", k.acks_stale);
    x.emplace_back("acks_unknown", k.acks_unknown);
    x.emplace_back("inputs_malformed", k.inputs_malformed);
    x.emplace_back("drop_input_rate", k.inputs_rate_limited);
    s.drops.emplace_back("input_rate", k.inputs_rate_limited);
    x.emplace_back("drop_input_unknown_peer", k.inputs_unknown_peer);
    s.drops.emplace_back("input_unknown_peer", k.inputs_unknown_peer);
  }
  return s;
}

}  // namespace volley::server
