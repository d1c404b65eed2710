// make_settings: the limits the public Config promises, then field-by-field translation.
#include "settings.hpp"

#include <algorithm>

namespace volley::server {

std::string make_settings(const Config& c, Settings& out) {
  constexpr std::size_t kMaxPeers = 1u << 20;
  if (c.max_peers < 1 || c.max_peers > kMaxPeers) return "max_peers must be 1..1048576";
  if (c.channel_limit < protocol::kMinChannelCount || c.channel_limit > protocol::kMaxChannelCount) {
    return "channel_limit must be 1..255";
  }
  if (c.mtu < protocol::kMinMtu || c.mtu > protocol::kMaxMtu) return "mtu must be 576..4096";
  if (c.ping_interval_ms == 0) return "ping_interval_ms must be positive";
  if (c.timeout_limit == 0) return "timeout_limit must be positive";
  // 0 would end every peer at its first unacknowledged resend (the client's HostOptions take 0
  // as "libenet's default"; here the defaults are the fields' own).
  if (c.timeout_minimum_ms == 0) return "timeout_minimum_ms must be positive";
  if (c.timeout_minimum_ms > c.timeout_maximum_ms) return "timeout_minimum_ms exceeds timeout_maximum_ms";
  if (c.coalesce_us > 100'000) return "coalesce_us must be 0..100000";
  if (c.recv_buffer_bytes < 0 || c.send_buffer_bytes < 0) return "socket buffer sizes must be >= 0";
  if (c.tick_hz > 1000) return "tick_hz must be 0..1000";
  const SnapshotConfig& snap = c.snapshots;
  // An empty delta is already ~53 bytes: under 128 a budget starved entities for good (at 64,
  // 3 of 50 ever arrived).
  if (snap.budget_bytes != 0 && (snap.budget_bytes < 128 || snap.budget_bytes > 60000)) {
    return "snapshots.budget_bytes must be 0 (the codec's limit) or 128..60000";
  }
  if (snap.history < 2 || snap.history > 256) return "snapshots.history must be 2..256";
  // 0 would drop every event as undeliverable at once: no client would ever be shown one.
  if (snap.event_max_age_ticks == 0) return "snapshots.event_max_age_ticks must be positive";
  if (snap.max_stride == 0) return "snapshots.max_stride must be at least 1 (1 = a snapshot every tick)";
  if (snap.max_inputs_per_second != 0 && snap.input_burst == 0) return "snapshots.input_burst must be positive";
  if (c.max_packet_size < 1) return "max_packet_size must be positive";
  if (c.max_fragments < 1) return "max_fragments must be positive";
  if (c.max_waiting_data < c.max_packet_size) return "max_waiting_data must be at least max_packet_size";
  if (c.max_waiting_total < c.max_waiting_data) return "max_waiting_total must be at least max_waiting_data";
  if (c.max_held_commands < 1) return "max_held_commands must be positive";
  if (c.max_queued_data < 64 * 1024) return "max_queued_data must be at least 65536";
  if (c.handshake_burst < 1 || c.handshake_burst_per_ip < 1) return "handshake bursts must be positive";
  // "[::1]", as local_address() prints it, is taken as well as "::1".
  const bool bracketed = c.bind.size() > 2 && c.bind.front() == '[' && c.bind.back() == ']';
  const auto bind = engine::Address::from_ip(bracketed ? c.bind.substr(1, c.bind.size() - 2) : c.bind, c.port);
  if (!bind) return "bad bind address '" + c.bind + "' (want a numeric IPv4 or IPv6 address)";
  const auto backend = engine::parse_backend(c.backend);
  if (!backend) return "unknown backend '" + c.backend + "' (want auto, io_uring, epoll or iocp)";

  protocol::PeerConfig& p = out.host.peer;
  p = protocol::PeerConfig::server_defaults();
  p.checksum = c.checksum;
  p.compress = c.compress;
  p.mtu = c.mtu;
  p.channel_limit = c.channel_limit;
  p.incoming_bandwidth = c.incoming_bandwidth;
  p.outgoing_bandwidth = c.outgoing_bandwidth;
  p.ping_interval_ms = c.ping_interval_ms;
  p.keepalive = c.ping_only_when_silent ? protocol::KeepalivePolicy::kWhenSilent : protocol::KeepalivePolicy::kLibenet;
  p.timeout_limit = c.timeout_limit;
  p.timeout_minimum_ms = c.timeout_minimum_ms;
  p.timeout_maximum_ms = c.timeout_maximum_ms;
  p.rto_cap_ms = c.rto_cap_ms;
  p.max_packet_size = c.max_packet_size;
  p.max_fragment_count = c.max_fragments;
  p.max_waiting_data = c.max_waiting_data;
  p.max_held_commands = c.max_held_commands;
  p.max_queued_data = c.max_queued_data;
  out.host.max_waiting_total = c.max_waiting_total;
  out.host.handshake.replies = RateLimit{c.handshake_rate, c.handshake_burst};
  out.host.handshake.replies_per_ip = RateLimit{c.handshake_rate_per_ip, c.handshake_burst_per_ip};
  out.host.max_peers = c.max_peers;
  out.host.per_ip_cap = c.per_ip_cap;
  out.host.fast_refusal = c.fast_refusal;

  engine::LoopConfig& l = out.loop;
  l.bind = *bind;
  l.backend = *backend;
  l.recv_buffer_bytes = c.recv_buffer_bytes;
  l.send_buffer_bytes = c.send_buffer_bytes;
  l.coalesce_us = c.coalesce_us;
  l.single_thread = c.single_thread;
  l.max_datagram_bytes = kMaxReceivedDatagram;
  // One broadcast can queue a datagram per peer in a single iteration.
  l.max_queued_sends = std::clamp<std::size_t>(2 * c.max_peers, 8192, 65536);
  return {};
}

}  // namespace volley::server
