// The limits a public server puts on what remote peers control (README "Limits"), at the Host:
// Config's defaults as the Host gets them (the per-IP cap holds for loopback too), a CONNECT's
// channel count, the waiting-data budget shared by every peer, a send queue that a silent peer
// fills, and the named drop reasons as the stats JSON and /metrics list them.
#include <doctest/doctest.h>

#include <algorithm>
#include <array>
#include <cstring>
#include <functional>
#include <string>
#include <vector>

#include "host_driver.hpp"
#include "server_stats.hpp"
#include "settings.hpp"

namespace volley::server::test {
namespace {

using protocol::Counter;
using protocol::PeerEvent;
using protocol::PeerState;

std::size_t connected(HostDriver& d) {
  return static_cast<std::size_t>(std::count_if(d.clients().begin(), d.clients().end(), [](const auto& c) {
    return c->peer.state() == PeerState::kConnected;
  }));
}

// The CONNECT a client-role Peer sends, its channelCount field overwritten with `channels`.
std::vector<std::uint8_t> connect_with_channels(std::uint32_t channels) {
  protocol::Peer p(protocol::PeerRole::kClient, 0, {});
  p.connect(0, 2, 0, {1, 2, 3, 4});
  std::array<std::uint8_t, protocol::kMaxMtu> buf{};
  const std::size_t n = p.poll_datagram(0, buf);
  std::vector<std::uint8_t> bytes(buf.begin(), buf.begin() + static_cast<std::ptrdiff_t>(n));
  // Header (peer id, sent time) 4 bytes, command header 4, then outgoingPeerID 2, sessions 2,
  // MTU 4, window 4: channelCount at byte 20, big-endian.
  REQUIRE(bytes.size() > 24);
  for (int i = 0; i < 4; ++i) bytes[20 + i] = static_cast<std::uint8_t>(channels >> (24 - 8 * i));
  return bytes;
}

}  // namespace

TEST_CASE("Config's defaults reach the Host: 32 peers per client IP, loopback included, 0 lifts the cap") {
  Settings settings;
  REQUIRE(make_settings(Config{}, settings).empty());
  const HostConfig& h = settings.host;
  CHECK(h.per_ip_cap == 32);
  CHECK(h.max_waiting_total == 256u * 1024 * 1024);
  CHECK(h.peer.max_packet_size == 4u * 1024 * 1024);
  CHECK(h.peer.max_fragment_count == 8192);
  CHECK(h.peer.max_waiting_data == 8u * 1024 * 1024);
  CHECK(h.peer.max_held_commands == 4096);
  CHECK(h.peer.max_queued_data == 8u * 1024 * 1024);
  CHECK(h.handshake.replies.per_second == 200000);
  CHECK(h.handshake.replies_per_ip.per_second == 32);
  CHECK(h.handshake.replies_per_ip.burst == 64);

  // Each Config field reaches the Host's settings.
  Config relaxed;
  relaxed.max_packet_size = 1000;
  relaxed.max_fragments = 7;
  relaxed.max_waiting_data = 2000;
  relaxed.max_waiting_total = 3000;
  relaxed.max_held_commands = 9;
  relaxed.max_queued_data = 70000;
  relaxed.handshake_rate = 11;
  relaxed.handshake_burst = 12;
  relaxed.handshake_rate_per_ip = 13;
  relaxed.handshake_burst_per_ip = 14;
  REQUIRE(make_settings(relaxed, settings).empty());
  CHECK(h.peer.max_packet_size == 1000);
  CHECK(h.peer.max_fragment_count == 7);
  CHECK(h.peer.max_waiting_data == 2000);
  CHECK(h.max_waiting_total == 3000);
  CHECK(h.peer.max_held_commands == 9);
  CHECK(h.peer.max_queued_data == 70000);
  CHECK(h.handshake.replies.per_second == 11);
  CHECK(h.handshake.replies.burst == 12);
  CHECK(h.handshake.replies_per_ip.per_second == 13);
  CHECK(h.handshake.replies_per_ip.burst == 14);
  relaxed.max_waiting_data = 999;  // below the packet size: no packet could ever complete
  CHECK(!make_settings(relaxed, settings).empty());

  for (const std::size_t cap : {std::size_t{32}, std::size_t{0}}) {
    CAPTURE(cap);
    Config config;
    config.per_ip_cap = cap;
    REQUIRE(make_settings(config, settings).empty());
    HostDriver d(settings.host);
    for (std::uint16_t i = 0; i < 33; ++i) d.connect(d.add_client(HostDriver::address(static_cast<std::uint16_t>(41000 + i))));
    d.run_until([&] { return false; }, 3 * kSec);
    CHECK(connected(d) == (cap == 0 ? 33 : 32));
    CHECK(d.host().stats()[HostDrop::kRefusedPerIp] == (cap == 0 ? 0 : 1));
  }
}

TEST_CASE("Config limits: each edge value is accepted and the one past it refused with a message") {
  struct Edge {
    const char* what;
    std::function<void(Config&)> edge, past;
  };
  const std::vector<Edge> edges = {
      {"max_peers low", [](Config& c) { c.max_peers = 1; }, [](Config& c) { c.max_peers = 0; }},
      {"max_peers high", [](Config& c) { c.max_peers = 1u << 20; }, [](Config& c) { c.max_peers = (1u << 20) + 1; }},
      {"channel_limit low", [](Config& c) { c.channel_limit = 1; }, [](Config& c) { c.channel_limit = 0; }},
      {"channel_limit high", [](Config& c) { c.channel_limit = 255; }, [](Config& c) { c.channel_limit = 256; }},
      {"mtu low", [](Config& c) { c.mtu = 576; }, [](Config& c) { c.mtu = 575; }},
      {"mtu high", [](Config& c) { c.mtu = 4096; }, [](Config& c) { c.mtu = 4097; }},
      {"ping_interval_ms", [](Config& c) { c.ping_interval_ms = 1; }, [](Config& c) { c.ping_interval_ms = 0; }},
      {"timeout_limit", [](Config& c) { c.timeout_limit = 1; }, [](Config& c) { c.timeout_limit = 0; }},
      {"timeout minimum vs maximum", [](Config& c) { c.timeout_minimum_ms = c.timeout_maximum_ms; },
       [](Config& c) { c.timeout_minimum_ms = c.timeout_maximum_ms + 1; }},
      {"tick_hz", [](Config& c) { c.tick_hz = 1000; }, [](Config& c) { c.tick_hz = 1001; }},
      {"budget_bytes low", [](Config& c) { c.snapshots.budget_bytes = 128; }, [](Config& c) { c.snapshots.budget_bytes = 127; }},
      {"budget_bytes high", [](Config& c) { c.snapshots.budget_bytes = 60000; },
       [](Config& c) { c.snapshots.budget_bytes = 60001; }},
      {"history low", [](Config& c) { c.snapshots.history = 2; }, [](Config& c) { c.snapshots.history = 1; }},
      {"history high", [](Config& c) { c.snapshots.history = 256; }, [](Config& c) { c.snapshots.history = 257; }},
      {"input_burst", [](Config& c) { c.snapshots.input_burst = 1; }, [](Config& c) { c.snapshots.input_burst = 0; }},
      {"max_packet_size", [](Config& c) { c.max_packet_size = 1; }, [](Config& c) { c.max_packet_size = 0; }},
      {"max_fragments", [](Config& c) { c.max_fragments = 1; }, [](Config& c) { c.max_fragments = 0; }},
      {"max_waiting_data", [](Config& c) { c.max_waiting_data = c.max_packet_size; },
       [](Config& c) { c.max_waiting_data = c.max_packet_size - 1; }},
      {"max_waiting_total", [](Config& c) { c.max_waiting_total = c.max_waiting_data; },
       [](Config& c) { c.max_waiting_total = c.max_waiting_data - 1; }},
      {"max_held_commands", [](Config& c) { c.max_held_commands = 1; }, [](Config& c) { c.max_held_commands = 0; }},
      {"max_queued_data", [](Config& c) { c.max_queued_data = 65536; }, [](Config& c) { c.max_queued_data = 65535; }},
      {"handshake_burst", [](Config& c) { c.handshake_burst = 1; }, [](Config& c) { c.handshake_burst = 0; }},
      {"handshake_burst_per_ip", [](Config& c) { c.handshake_burst_per_ip = 1; },
       [](Config& c) { c.handshake_burst_per_ip = 0; }},
  };
  Settings settings;
  for (const Edge& e : edges) {
    CAPTURE(e.what);
    Config edge;
    e.edge(edge);
    CHECK(make_settings(edge, settings).empty());
    Config past;
    e.past(past);
    const std::string error = make_settings(past, settings);
    CHECK_FALSE(error.empty());
    CHECK(error.find('\n') == std::string::npos);  // one line
  }
}

TEST_CASE("a CONNECT asking for 0 or more than 255 channels is dropped as bad_channel_count, unanswered") {
  HostDriver d(HostConfig{});
  for (const std::uint32_t channels : {0u, 256u, 0xFFFFFFFFu}) {
    const auto bytes = connect_with_channels(channels);
    const engine::DatagramView view{bytes, HostDriver::address(42000)};
    d.inject(std::span(&view, 1));
  }
  CHECK(d.host().stats()[HostDrop::kBadChannelCount] == 3);
  CHECK(d.host().stats()[HostDrop::kBadConnect] == 0);
  CHECK(d.outbound().empty());
  CHECK(d.host().half_open() == 0);
  // 255 is allowed, and capped at the configured limit.
  HostConfig limited;
  limited.peer.channel_limit = 8;
  HostDriver e(limited);
  Client& c = e.add_client(HostDriver::address(42001));
  e.connect(c, 255);
  REQUIRE(e.run_until([&] { return c.peer.state() == PeerState::kConnected; }, 2 * kSec));
  CHECK(c.peer.channel_count() == 8);
}

TEST_CASE("the waiting-data total bounds every peer's undelivered bytes together, refused data is resent") {
  HostConfig config;
  config.max_waiting_total = 5000;
  HostDriver d(config);
  d.events.echo = false;
  for (std::uint16_t i = 0; i < 3; ++i) d.connect(d.add_client(HostDriver::address(static_cast<std::uint16_t>(43000 + i))));
  REQUIRE(d.run_until([&] { return connected(d) == 3; }, 2 * kSec));
  // Three 3,000-byte reliable packets (fragments) in one receive batch: the first takes its
  // 3,000 bytes when its first fragment arrives; the others would pass 5,000 and are refused.
  const std::vector<std::uint8_t> packet(3000, 0x5C);
  for (auto& c : d.clients()) REQUIRE(c->peer.send(0, packet, protocol::PacketFlags::kReliable) == SendResult::kOk);
  d.feed(d.gather());
  CHECK(d.host().stats().peers[Counter::kDropWaitingTotalLimit] >= 2);
  CHECK(d.host().stats().peers[Counter::kDropWaitingDataLimit] == 0);
  CHECK(d.events.received == 1);
  // Refused fragments were not acknowledged: the clients resend them and all arrive.
  REQUIRE(d.run_until([&] { return d.events.received == 3; }, 5 * kSec));
  CHECK(d.host().waiting_total() == 0);
}

TEST_CASE("a peer that acknowledges nothing: sends are refused as kQueueFull once its queue is full") {
  HostConfig config;
  config.peer.max_queued_data = 64 * 1024;
  HostDriver d(config);
  d.events.echo = false;
  Client& c = d.add_client(HostDriver::address(44000));
  d.connect(c);
  REQUIRE(d.run_until([&] { return d.events.connected.size() == 1; }, 2 * kSec));
  c.muted = true;
  const PeerHandle peer = d.events.connected.front();
  const std::vector<std::uint8_t> packet(1000, 1);
  std::size_t accepted = 0;
  SendResult last = SendResult::kOk;
  for (int i = 0; i < 1000 && last == SendResult::kOk; ++i) {
    last = d.host().send(peer, 0, packet, protocol::PacketFlags::kReliable);
    accepted += last == SendResult::kOk ? 1 : 0;
    d.host().flush(d.now());
  }
  CHECK(last == SendResult::kQueueFull);
  CHECK(accepted < 64);
  CHECK(d.host().peer(peer)->stats().queued_data <= config.peer.max_queued_data);
  CHECK(d.host().stats().peers[Counter::kDropSendQueueFull] == 1);
}

// Each published figure comes from its own counter: distinct values in, each where it belongs.
TEST_CASE("server stats: payload bytes each way, retransmits, and a bad checksum as a bad datagram") {
  HostStats host;
  host.peers.add(Counter::kPayloadBytesIn, 1000);
  host.peers.add(Counter::kPayloadBytesOut, 77);
  host.peers.add(Counter::kRetransmits, 5);
  host.peers.add(Counter::kDropBadChecksum, 3);
  const ServerStats s = make_server_stats(host, DeadlineOps{}, engine::Stats{}, TickStats{});
  CHECK(s.bytes_in == 1000);
  CHECK(s.bytes_out == 77);
  CHECK(s.bad_datagrams == 3);
  std::optional<std::uint64_t> retransmits;
  for (const auto& [key, value] : s.details)
    if (key == "retransmits") retransmits = value;
  CHECK(retransmits == 5u);
}

// The peer RTT histogram is in seconds, like every Prometheus duration: 40 ms round trips land
// between its 0.025 and 0.05 bounds, not past 1 (as milliseconds would).
TEST_CASE("server stats: the peer RTT histogram is in seconds") {
  HostDriver d(HostConfig{});
  Client& c = d.add_client(HostDriver::address(42002));
  d.connect(c);
  REQUIRE(d.run_until([&] { return c.peer.state() == PeerState::kConnected && !d.events.connected.empty(); },
                      2 * kSec));
  const PeerHandle peer = d.events.connected.front();
  const std::vector<std::uint8_t> packet(16, 1);
  for (int i = 0; i < 20; ++i) {  // each reply's ACK comes back 40 ms after it left
    REQUIRE(d.host().send(peer, 0, packet, protocol::PacketFlags::kReliable) == SendResult::kOk);
    d.host().flush(d.now());
    d.advance_to(d.now() + 40 * kMs);
    d.deliver();
    d.pump();
  }
  ServerStats s;
  add_connected_peers(s, d.host());
  const Histogram& rtt = s.peer_rtt_seconds;
  REQUIRE(rtt.bounds.size() >= 6);
  REQUIRE(rtt.bounds[4] == 0.025);
  REQUIRE(rtt.bounds[5] == 0.05);
  CHECK(rtt.count() == 1);
  CHECK(rtt.counts[4] == 0);
  CHECK(rtt.counts[5] == 1);
  CHECK(rtt.sum > 0.025);
  CHECK(rtt.sum <= 0.05);
}

TEST_CASE("every limit's drop reason is named in the stats (JSON details and the /metrics drops)") {
  HostStats host;
  host.peers.add(Counter::kDropHeldCommandsLimit, 3);
  host.drop(HostDrop::kBadChannelCount);
  SenderCounters sender;
  sender.inputs_rate_limited = 7;
  TickStats ticks;
  ticks.sender = &sender;
  const ServerStats s = make_server_stats(host, DeadlineOps{}, engine::Stats{}, ticks);
  auto find = [](const NamedCounts& list, std::string_view name) -> std::optional<std::uint64_t> {
    for (const auto& [key, value] : list)
      if (key == name) return value;
    return std::nullopt;
  };
  for (const char* name : {"fragment_count_limit", "fragment_length_limit", "waiting_data_limit",
                           "waiting_total_limit", "held_commands_limit", "send_queue_full",
                           "host_bad_channel_count", "host_handshake_rate_global",
                           "host_handshake_rate_address", "input_rate"}) {
    CAPTURE(name);
    CHECK(find(s.drops, name).has_value());
    CHECK(find(s.details, std::string("drop_") + name).has_value());
  }
  CHECK(find(s.refusals, refusal_code_name(RefusalCode::kPerIp)).has_value());  // the per-IP cap's
  CHECK(find(s.drops, "held_commands_limit") == 3u);
  CHECK(find(s.drops, "host_bad_channel_count") == 1u);
  CHECK(find(s.details, "drop_input_rate") == 7u);
}

}  // namespace volley::server::test
