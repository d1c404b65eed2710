// Retransmission and timeout bounds (enet-protocol.md section 6) and keepalive (section 7):
// the CONNECT retry timeline to a silent server, the give-up instant of an established peer
// for several round-trip times, per-peer timeout knobs, silent reset of an unacknowledged
// server slot, and no timeout over 10 idle virtual minutes while acks flow.
#include "peer_test_util.hpp"

using namespace volley;
using namespace volley::protocol;
using volley::test::connect_pair;
using volley::test::last_disconnect;

namespace {

bool carries_reliable(Bytes datagram) { return datagram.size() >= 2 && (datagram[0] & 0x80) != 0; }

// libenet gives up at the first check R(2^k - 1) with k >= 6 (rto reached 32 R) and at least the
// minimum elapsed, or with the maximum elapsed.
std::int64_t expected_give_up_ms(std::int64_t rto, std::int64_t limit = 32, std::int64_t min_ms = 5000,
                                 std::int64_t max_ms = 30000) {
  for (int k = 1; k < 40; ++k) {
    const std::int64_t elapsed = rto * ((std::int64_t{1} << k) - 1);
    const std::int64_t current_rto = rto << (k - 1);
    if (elapsed >= max_ms || (current_rto >= limit * rto && elapsed >= min_ms)) return elapsed;
  }
  return -1;
}

// A link of `one_way_ms` each way whose server Peer keeps the lean keepalive rule.
sim::HarnessOptions when_silent_link(TimePoint one_way_ms) {
  sim::HarnessOptions o;
  o.server_config.keepalive = KeepalivePolicy::kWhenSilent;
  o.to_server.latency = o.to_client.latency = one_way_ms * sim::kMillisecond;
  return o;
}

}  // namespace

TEST_CASE("timeout: CONNECT to a silent server is resent at 0.5/1.5/3.5/7.5/15.5 s and fails at 31.5 s") {
  sim::Harness h(sim::HarnessOptions{});
  h.to_server().dead = true;
  std::vector<TimePoint> sends;
  const TimePoint start = h.now();
  h.client().on_send = [&](TimePoint t, Bytes) { sends.push_back(t - start); };
  h.connect(1, 0);
  h.run_for(40 * sim::kSecond);
  const std::vector<TimePoint> expected{0, 500 * sim::kMillisecond, 1500 * sim::kMillisecond,
                                        3500 * sim::kMillisecond, 7500 * sim::kMillisecond,
                                        15500 * sim::kMillisecond};
  CHECK(sends == expected);
  const auto* event = last_disconnect(h.client());
  REQUIRE(event);
  CHECK(event->reason == DisconnectReason::kTimeout);
  CHECK(h.client().peer.state() == PeerState::kDisconnected);
  CHECK(h.client().peer.counters()[Counter::kRetransmits] == 5);
}

TEST_CASE("timeout: an established peer gives up exactly when libenet would, for several RTTs") {
  for (TimePoint one_way_ms : {1, 6, 40, 120, 300}) {
    CAPTURE(one_way_ms);
    sim::HarnessOptions o;
    o.to_server.latency = o.to_client.latency = one_way_ms * sim::kMillisecond;
    sim::Harness h(o);
    TimePoint last_reliable_send = 0;
    h.client().on_send = [&](TimePoint t, Bytes d) {
      if (carries_reliable(d)) last_reliable_send = t;
    };
    REQUIRE(connect_pair(h));
    h.run_for(20 * sim::kSecond);  // settle the RTT with pings
    CHECK(h.client().events.size() == 1);
    const auto s = h.client().peer.stats();
    const std::int64_t rto = s.rtt_ms + 4 * s.rtt_variance_ms;
    // A PING already in flight when the link dies is the first unacked command.
    std::optional<TimePoint> first_unacked;
    if (h.client().peer.stats().sent_unacked > 0) first_unacked = last_reliable_send;
    h.to_client().dead = true;
    h.client().on_send = [&](TimePoint t, Bytes d) {
      if (!first_unacked && carries_reliable(d)) first_unacked = t;
    };
    REQUIRE(h.drive_until([&] { return last_disconnect(h.client()) != nullptr; }, 120 * sim::kSecond));
    REQUIRE(first_unacked);
    const std::int64_t gave_up_ms = (h.now() - *first_unacked) / sim::kMillisecond;
    CHECK(gave_up_ms == expected_give_up_ms(rto));
    CHECK(gave_up_ms >= 5000);
    CHECK(gave_up_ms <= 61000);
    CHECK(last_disconnect(h.client())->reason == DisconnectReason::kTimeout);
    CHECK(last_disconnect(h.client())->data == 0);
  }
}

TEST_CASE("timeout: per-peer knobs (enet_peer_timeout) shorten the give-up time") {
  sim::Harness h(sim::HarnessOptions{});
  REQUIRE(connect_pair(h));
  h.run_for(5 * sim::kSecond);
  h.client().peer.set_timeout(4, 1000, 2000);
  h.client().peer.set_ping_interval(100);
  const TimePoint dead_at = h.now();
  h.to_client().dead = true;
  REQUIRE(h.drive_until([&] { return last_disconnect(h.client()) != nullptr; }, 60 * sim::kSecond));
  CHECK(h.now() - dead_at <= 2200 * sim::kMillisecond);
  CHECK(h.now() - dead_at >= 1000 * sim::kMillisecond);
}

TEST_CASE("timeout: the server notices a vanished client - an unacked VERIFY resets the slot silently") {
  sim::Harness h(sim::HarnessOptions{});
  REQUIRE(connect_pair(h));
  h.run_for(3 * sim::kSecond);
  h.to_server().dead = true;  // the client goes silent
  REQUIRE(h.drive_until([&] { return last_disconnect(h.server()) != nullptr; }, 60 * sim::kSecond));
  CHECK(last_disconnect(h.server())->reason == DisconnectReason::kTimeout);

  sim::Harness h2(sim::HarnessOptions{});
  h2.to_client().dead = true;  // VERIFY_CONNECT never arrives
  h2.connect(1, 0);
  h2.run_for(2 * sim::kSecond);
  CHECK(h2.server().peer.state() == PeerState::kAcknowledgingConnect);
  h2.to_server().dead = true;
  h2.run_for(60 * sim::kSecond);
  CHECK(h2.server().peer.state() == PeerState::kDisconnected);
  CHECK(h2.server().events.empty());  // the app never saw this connection
}

TEST_CASE("keepalive: an idle connection holds for 10 virtual minutes - pings every ~500 ms + RTT") {
  sim::HarnessOptions o;
  o.to_server.latency = o.to_client.latency = 20 * sim::kMillisecond;
  o.to_server.jitter = o.to_client.jitter = 5 * sim::kMillisecond;
  sim::Harness h(o);
  REQUIRE(connect_pair(h));
  const TimePoint start = h.now();
  h.run_for(600 * sim::kSecond);
  CHECK(h.now() - start == 600 * sim::kSecond);
  CHECK(h.client().peer.state() == PeerState::kConnected);
  CHECK(h.server().peer.state() == PeerState::kConnected);
  CHECK(h.client().events.size() == 1);
  CHECK(h.server().events.size() == 1);
  const auto pings = h.client().peer.counters()[Counter::kPingsOut];
  CHECK(pings >= 600 * 1000 / 560);
  CHECK(pings <= 600 * 1000 / 500 + 2);
  CHECK(h.server().peer.counters()[Counter::kPingsOut] >= 1000);
  CHECK(h.client().peer.counters().drops() == 0);
  const auto s = h.client().peer.stats();
  CHECK(s.rtt_ms >= 40);
  CHECK(s.rtt_ms <= 55);
}

// KeepalivePolicy::kWhenSilent (the server's default): the remote's own libenet-rule PINGs keep
// the link alive, so the server sends none of its own, whatever the RTT.
TEST_CASE("keepalive (when silent): a remote pinging on libenet's rule is never pinged back") {
  for (TimePoint one_way_ms : {1, 20, 150, 400}) {
    CAPTURE(one_way_ms);
    sim::HarnessOptions o = when_silent_link(one_way_ms);
    o.to_server.jitter = o.to_client.jitter = one_way_ms / 4 * sim::kMillisecond;
    sim::Harness h(o);
    REQUIRE(connect_pair(h));
    h.run_for(120 * sim::kSecond);
    CHECK(h.client().peer.state() == PeerState::kConnected);
    CHECK(h.server().peer.state() == PeerState::kConnected);
    CHECK(h.client().events.size() == 1);
    CHECK(h.server().events.size() == 1);
    CHECK(h.server().peer.counters()[Counter::kPingsOut] == 0);
    // The client still pings every interval + RTT, and every PING is acknowledged.
    const auto pings = h.client().peer.counters()[Counter::kPingsOut];
    CHECK(pings >= 120 * 1000 / (500 + 3 * one_way_ms));
    CHECK(pings <= 120 * 1000 / 500 + 2);
    CHECK(h.client().peer.counters().drops() == 0);
  }
}

TEST_CASE("keepalive (when silent): a remote that goes silent is pinged, then times out") {
  sim::Harness h(when_silent_link(10));
  REQUIRE(connect_pair(h));
  h.run_for(10 * sim::kSecond);
  REQUIRE(h.server().peer.counters()[Counter::kPingsOut] == 0);
  std::optional<TimePoint> last_heard;
  TimePoint last_client_send = 0;
  h.client().on_send = [&](TimePoint t, Bytes) { last_client_send = t; };
  h.run_for(600 * sim::kMillisecond);
  REQUIRE(last_client_send > 0);
  last_heard = last_client_send + 10 * sim::kMillisecond;  // when it reached the server
  h.to_server().dead = true;  // the client goes silent (the server still reaches it)
  std::optional<TimePoint> first_ping;
  h.server().on_send = [&](TimePoint t, Bytes d) {
    if (!first_ping && carries_reliable(d)) first_ping = t;
  };
  REQUIRE(h.drive_until([&] { return last_disconnect(h.server()) != nullptr; }, 60 * sim::kSecond));
  CHECK(last_disconnect(h.server())->reason == DisconnectReason::kTimeout);
  REQUIRE(first_ping);
  // First PING after 2 intervals + the RTT estimate (~20 ms) of silence; libenet would ping
  // within one interval of the last ACK.
  const auto silent_ms = (*first_ping - *last_heard) / sim::kMillisecond;
  MESSAGE("first PING after ", silent_ms, " ms of silence");
  CHECK(silent_ms >= 1000);
  CHECK(silent_ms <= 1100);
  CHECK(h.server().peer.counters()[Counter::kPingsOut] == 1);
  // Then the ordinary timeout rule runs from that unacknowledged PING: the RTO of a ~20 ms
  // link doubles to 32x before 5 s, so the peer ends after at least 5 s and well before 30 s.
  const auto gave_up_ms = (h.now() - *first_ping) / sim::kMillisecond;
  CHECK(gave_up_ms >= 5000);
  CHECK(gave_up_ms <= 10000);
}

TEST_CASE("keepalive (when silent): reliable data in flight is paced by ACKs as before, no PINGs") {
  std::vector<TimePoint> gave_up;
  for (const KeepalivePolicy policy : {KeepalivePolicy::kLibenet, KeepalivePolicy::kWhenSilent}) {
    CAPTURE(static_cast<int>(policy));
    sim::HarnessOptions o;
    o.server_config.keepalive = policy;
    o.to_server.latency = o.to_client.latency = 20 * sim::kMillisecond;
    sim::Harness h(o);
    REQUIRE(connect_pair(h));
    const std::vector<std::uint8_t> payload(32, 7);
    // The server sends a reliable packet every 300 ms for 30 s; the client sends nothing of
    // its own but ACKs. Under both rules the server's in-flight data (and the ACKs it draws)
    // stand in for keepalive.
    for (int i = 0; i < 100; ++i) {
      REQUIRE(h.server().peer.send(0, payload, PacketFlags::kReliable) == SendResult::kOk);
      h.run_for(300 * sim::kMillisecond);
    }
    CHECK(h.server().peer.counters()[Counter::kPingsOut] == 0);
    CHECK(h.server().peer.counters()[Counter::kRetransmits] == 0);
    CHECK(h.server().peer.stats().sent_unacked == 0);
    CHECK(h.client().peer.state() == PeerState::kConnected);
    // Then the client vanishes while data is in flight: the resend/timeout rule ends the peer
    // within libenet's bound from the first unacknowledged send.
    h.to_server().dead = true;
    const TimePoint dead_at = h.now();
    REQUIRE(h.server().peer.send(0, payload, PacketFlags::kReliable) == SendResult::kOk);
    REQUIRE(h.drive_until([&] { return last_disconnect(h.server()) != nullptr; }, 60 * sim::kSecond));
    CHECK(last_disconnect(h.server())->reason == DisconnectReason::kTimeout);
    CHECK(h.now() - dead_at >= 5 * sim::kSecond);
    CHECK(h.now() - dead_at <= 32 * sim::kSecond);
    gave_up.push_back(h.now() - dead_at);
  }
  REQUIRE(gave_up.size() == 2);
  CHECK(gave_up[0] == gave_up[1]);  // the same instant under both rules
}


// Only RTT samples (ACKs of our reliable commands) raise a lowered packet throttle, and a remote
// that hears only unreliable data from us acks nothing of ours but PINGs: the lean rule must
// stand down until the throttle is back at its limit, or unreliable sends stay thinned for good.
TEST_CASE("keepalive (when silent): a lowered packet throttle brings our PINGs back until it recovers") {
  sim::Harness h(when_silent_link(20));
  REQUIRE(connect_pair(h));
  h.run_for(6 * sim::kSecond);
  REQUIRE(h.server().peer.stats().packet_throttle == 32);
  // A queueing delay growing while reliable data flows lowers the throttle.
  for (int i = 0; i < 400 && h.server().peer.stats().packet_throttle == 32; ++i) {
    h.to_client().impairment().latency = (20 + 2 * i) * sim::kMillisecond;
    h.server().peer.send(1, volley::test::pattern(200, i), PacketFlags::kReliable);
    h.run_for(10 * sim::kMillisecond);
  }
  REQUIRE(h.server().peer.stats().packet_throttle < 32);
  h.to_client().impairment().latency = 20 * sim::kMillisecond;
  const auto pings_before = h.server().peer.counters()[Counter::kPingsOut];
  // Then only unreliable data from the server, 10 a second, for 60 s.
  for (int i = 0; i < 600; ++i) {
    h.server().peer.send(0, volley::test::pattern(100, i), PacketFlags::kUnreliable);
    h.run_for(100 * sim::kMillisecond);
  }
  CHECK(h.server().peer.counters()[Counter::kPingsOut] > pings_before);
  CHECK(h.server().peer.stats().packet_throttle == 32);
  // Recovered: the lean rule is back, no more PINGs while the client keeps pinging.
  const auto pings_recovered = h.server().peer.counters()[Counter::kPingsOut];
  h.run_for(30 * sim::kSecond);
  CHECK(h.server().peer.counters()[Counter::kPingsOut] == pings_recovered);
  CHECK(h.server().peer.state() == PeerState::kConnected);
}

TEST_CASE("keepalive: a PING due with no room left goes in a second datagram, which poll_again() announces") {
  sim::Harness h(sim::HarnessOptions{});
  REQUIRE(connect_pair(h, 1));
  h.run_for(100 * sim::kMillisecond);  // the handshake's last ACKs delivered: nothing in flight
  Peer& peer = h.client().peer;
  const TimePoint later = h.now() + 5 * sim::kSecond;  // long past the ping interval
  // One unfragmented command as large as can be (room left: 16 bytes), then one of 6 bytes
  // (8-byte command): 2 bytes left, too few for the 4-byte PING.
  const std::size_t mtu = peer.mtu();
  const std::vector<std::uint8_t> big(mtu - 4 - 24, 1), small(6, 2);
  REQUIRE(peer.send(0, big, PacketFlags::kUnreliable) == SendResult::kOk);
  REQUIRE(peer.send(0, small, PacketFlags::kUnreliable) == SendResult::kOk);
  std::array<std::uint8_t, kMaxMtu> buffer{};
  const auto pings = peer.counters()[Counter::kPingsOut];
  CHECK(peer.poll_datagram(later, buffer) == mtu - 4);  // a 2-byte header: no sent time
  CHECK(peer.counters()[Counter::kPingsOut] == pings);
  CHECK(peer.poll_again());
  CHECK(peer.poll_datagram(later, buffer) > 0);
  CHECK(peer.counters()[Counter::kPingsOut] == pings + 1);
  CHECK_FALSE(peer.poll_again());  // the PING is in flight: no other is due
  CHECK(peer.poll_datagram(later, buffer) == 0);
}
