// Every disconnect variant (enet-protocol.md section 10): graceful with its data word and the
// ack placed first, later (queued reliable data drains first), now (one unacknowledged
// DISCONNECT, byte-exact), reset (the remote times out), disconnect before connecting, a
// DISCONNECT during ACKNOWLEDGING_CONNECT, DISCONNECT_LATER discarding incoming data, zombie,
// and the undelivered events that disconnect_now and reset drop.
#include "peer_test_util.hpp"

using namespace volley;
using namespace volley::protocol;
using volley::test::connect_pair;
using volley::test::last_disconnect;
using volley::test::received;
using volley::test::to_hex;
using volley::test::hex;

TEST_CASE("disconnect: graceful, data word to the remote, local event on ack") {
  sim::Harness h(sim::HarnessOptions{});
  REQUIRE(connect_pair(h));
  std::vector<std::vector<std::uint8_t>> from_server;
  h.server().on_send = [&](TimePoint, Bytes d) { from_server.emplace_back(d.begin(), d.end()); };
  std::vector<std::vector<std::uint8_t>> from_client;
  h.client().on_send = [&](TimePoint, Bytes d) { from_client.emplace_back(d.begin(), d.end()); };
  h.client().peer.disconnect(7);
  CHECK(h.client().peer.state() == PeerState::kDisconnecting);
  REQUIRE(h.drive_until([&] { return last_disconnect(h.client()) && last_disconnect(h.server()); },
                        5 * sim::kSecond));
  CHECK(last_disconnect(h.server())->data == 7);
  CHECK(last_disconnect(h.server())->reason == DisconnectReason::kRemote);
  CHECK(last_disconnect(h.client())->data == 0);
  CHECK(last_disconnect(h.client())->reason == DisconnectReason::kLocal);
  CHECK(h.client().peer.state() == PeerState::kDisconnected);
  CHECK(h.server().peer.state() == PeerState::kDisconnected);
  REQUIRE(!from_client.empty());
  // 84 FF <rsn> 00 00 00 07 with the sentTime header bit.
  const auto& d = from_client.front();
  REQUIRE(d.size() == 12);
  CHECK((d[0] & 0x80) != 0);
  CHECK(d[4] == 0x84);
  CHECK(d[5] == 0xFF);
  CHECK(to_hex(Bytes(d).subspan(8)) == "00 00 00 07");
  REQUIRE(!from_server.empty());
  CHECK(from_server.front()[2] == 0x01);  // the DISCONNECT's ack comes first (2-byte header)
}

TEST_CASE("disconnect_later: queued reliable data drains before the DISCONNECT") {
  sim::HarnessOptions o;
  o.to_server.loss = 0.1;
  sim::Harness h(o);
  REQUIRE(connect_pair(h));
  for (std::uint32_t i = 0; i < 100; ++i)
    h.client().peer.send(0, volley::test::pattern(500, i), PacketFlags::kReliable);
  h.client().peer.disconnect_later(5);
  CHECK(h.client().peer.state() == PeerState::kDisconnectLater);
  CHECK(h.client().peer.send(0, volley::test::pattern(10, 0), PacketFlags::kReliable) == SendResult::kNotConnected);
  REQUIRE(h.drive_until([&] { return last_disconnect(h.server()) != nullptr; }, 60 * sim::kSecond));
  CHECK(received(h.server()).size() == 100);
  CHECK(last_disconnect(h.server())->data == 5);
  // Events arrive in order: every packet, then the disconnect.
  CHECK(h.server().events.back().type == PeerEvent::Type::kDisconnect);
}

// enet_peer_disconnect_later waits only for data in flight: with none, it is disconnect().
TEST_CASE("disconnect_later: with nothing queued or in flight it disconnects at once") {
  sim::Harness h(sim::HarnessOptions{});
  REQUIRE(connect_pair(h));
  REQUIRE(h.drive_until([&] { return h.client().peer.state() == PeerState::kConnected &&
                                     h.server().peer.state() == PeerState::kConnected; }, 5 * sim::kSecond));
  h.run_for(100 * sim::kMillisecond);  // every ack of the handshake is in
  h.client().peer.disconnect_later(4);
  CHECK(h.client().peer.state() == PeerState::kDisconnecting);
  REQUIRE(h.drive_until([&] { return last_disconnect(h.server()) != nullptr; }, 5 * sim::kSecond));
  CHECK(last_disconnect(h.server())->data == 4);
}

TEST_CASE("disconnect_later: incoming data is acked but discarded") {
  sim::Harness h(sim::HarnessOptions{});
  REQUIRE(connect_pair(h));
  h.to_server().dead = true;  // keep the server's data unacked so it stays in DISCONNECT_LATER
  h.server().peer.send(0, volley::test::pattern(10, 1), PacketFlags::kReliable);
  h.server().peer.disconnect_later(1);
  h.flush();
  h.to_server().dead = false;
  CHECK(h.server().peer.state() == PeerState::kDisconnectLater);
  h.client().peer.send(0, volley::test::pattern(10, 2), PacketFlags::kReliable);
  h.client().peer.send(0, volley::test::pattern(10, 3), PacketFlags::kUnsequenced);
  h.flush();
  h.drive_until([&] { return h.server().peer.counters()[Counter::kDropDisconnectLater] >= 2; }, 5 * sim::kSecond);
  CHECK(h.server().peer.counters()[Counter::kDropDisconnectLater] >= 2);
  CHECK(received(h.server()).empty());
  REQUIRE(h.drive_until([&] { return last_disconnect(h.client()) != nullptr; }, 10 * sim::kSecond));
  CHECK(last_disconnect(h.client())->data == 1);
  CHECK(received(h.client()).size() == 1);
}

TEST_CASE("disconnect_now: one unacknowledged DISCONNECT (byte-exact), no local event") {
  sim::Harness h(sim::HarnessOptions{});
  REQUIRE(connect_pair(h));
  h.client().peer.disconnect(0);
  REQUIRE(h.drive_until([&] { return h.server().peer.state() == PeerState::kDisconnected &&
                                     h.client().peer.state() == PeerState::kDisconnected; }, 5 * sim::kSecond));
  // Second connection from the same client slot: session 1; CONNECT = 1, PING = 2.
  h.client().events.clear();
  h.server().events.clear();
  const auto pings_before = h.client().peer.counters()[Counter::kPingsOut];
  h.connect(2, 0);
  REQUIRE(h.drive_until([&] { return h.server().peer.state() == PeerState::kConnected &&
                                     h.client().peer.counters()[Counter::kPingsOut] == pings_before + 1; },
                        5 * sim::kSecond));
  h.run_for(100 * sim::kMillisecond);
  REQUIRE(h.client().peer.counters()[Counter::kPingsOut] == pings_before + 1);
  std::vector<std::uint8_t> sent;
  h.client().on_send = [&](TimePoint, Bytes d) { sent.assign(d.begin(), d.end()); };
  h.client().peer.disconnect_now(99);
  CHECK(h.client().peer.state() == PeerState::kDisconnected);
  h.flush();
  // Exactly the libenet 1.3.17 capture (enet-protocol.md Appendix B).
  CHECK(to_hex(sent) == to_hex(hex("10 00 44 FF 00 03 00 00 00 63")));
  REQUIRE(h.drive_until([&] { return last_disconnect(h.server()) != nullptr; }, 2 * sim::kSecond));
  CHECK(last_disconnect(h.server())->data == 99);
  CHECK(last_disconnect(h.client()) == nullptr);
}

// enet_peer_disconnect_now sends its DISCONNECT only from a state that has not sent one: a
// DISCONNECTING peer is reset silently (the remote hears the first one, or times out).
TEST_CASE("disconnect_now: while DISCONNECTING, nothing more is sent") {
  sim::Harness h(sim::HarnessOptions{});
  REQUIRE(connect_pair(h));
  std::vector<std::vector<std::uint8_t>> sent;
  h.client().on_send = [&](TimePoint, Bytes d) { sent.emplace_back(d.begin(), d.end()); };
  h.client().peer.disconnect(7);
  REQUIRE(h.client().peer.state() == PeerState::kDisconnecting);
  h.client().peer.disconnect_now(99);
  CHECK(h.client().peer.state() == PeerState::kDisconnected);
  h.flush();
  CHECK(sent.empty());
}

TEST_CASE("reset: silent locally, the remote times out") {
  sim::Harness h(sim::HarnessOptions{});
  REQUIRE(connect_pair(h));
  const auto sessions = std::pair(h.client().peer.incoming_session_id(), h.client().peer.outgoing_session_id());
  h.client().peer.reset();
  CHECK(h.client().peer.state() == PeerState::kDisconnected);
  CHECK(std::pair(h.client().peer.incoming_session_id(), h.client().peer.outgoing_session_id()) == sessions);
  CHECK(h.client().peer.outgoing_peer_id() == kMaxPeerId);
  REQUIRE(h.drive_until([&] { return last_disconnect(h.server()) != nullptr; }, 60 * sim::kSecond));
  CHECK(last_disconnect(h.server())->reason == DisconnectReason::kTimeout);
  CHECK(last_disconnect(h.client()) == nullptr);
}

// enet_peer_reset: a peer used for another connection starts from libenet's defaults, not from
// the round-trip estimate and packet throttle the last connection left (500 ms, throttle 32).
TEST_CASE("reset: a peer whose connection ended is back at the default RTT and throttle") {
  sim::HarnessOptions o;
  o.to_server.jitter = 200 * sim::kMillisecond;
  o.seed = 11;
  sim::Harness h(o);
  REQUIRE(connect_pair(h));
  // Reliable traffic over a jittery link until the throttle is down (it compares each RTT with
  // the last 5 s epoch's lowest, which jitter often exceeds) and the RTT is far from 500 ms.
  for (std::uint32_t i = 0; i < 3000 && h.client().peer.stats().packet_throttle > 28; ++i) {
    h.client().peer.send(0, volley::test::pattern(100, i), PacketFlags::kReliable);
    h.run_for(20 * sim::kMillisecond);
  }
  const PeerStats used = h.client().peer.stats();
  REQUIRE(used.rtt_ms < 400);
  REQUIRE(used.packet_throttle <= 28);
  h.client().peer.disconnect(0);
  REQUIRE(h.drive_until([&] { return h.client().peer.state() == PeerState::kDisconnected; }, 10 * sim::kSecond));
  const PeerStats fresh = h.client().peer.stats();
  CHECK(fresh.rtt_ms == 500);
  CHECK(fresh.rtt_variance_ms == 0);
  CHECK(fresh.lowest_rtt_ms == 500);
  CHECK(fresh.last_rtt_ms == 500);
  CHECK(fresh.packet_throttle == 32);
  CHECK(fresh.packet_throttle_limit == 32);
}

// enet_peer_reset drops the packets not yet handed to the app, so after disconnect_now or reset
// the app hears nothing from that peer; an event read in place stays readable until popped.
namespace {
// Three packets from the server, received by the client and left in its queue.
void queue_three_packets(sim::Harness& h) {
  std::vector<std::vector<std::uint8_t>> sent;
  h.server().on_send = [&](TimePoint, Bytes d) { sent.emplace_back(d.begin(), d.end()); };
  h.to_client().dead = true;
  for (std::uint32_t i = 0; i < 3; ++i)
    REQUIRE(h.server().peer.send(0, volley::test::pattern(100, i), PacketFlags::kReliable) == SendResult::kOk);
  h.flush();
  h.server().on_send = nullptr;
  REQUIRE(!sent.empty());
  for (const auto& d : sent) h.client().peer.on_datagram(h.now(), d);
  REQUIRE(h.client().peer.stats().waiting_data == 300);
}
}  // namespace

TEST_CASE("disconnect_now and reset drop the events not yet handed out, and their bytes") {
  for (const bool now : {true, false}) {
    CAPTURE(now);
    sim::Harness h(sim::HarnessOptions{});
    REQUIRE(connect_pair(h));
    queue_three_packets(h);
    if (now) {
      h.client().peer.disconnect_now(1);
    } else {
      h.client().peer.reset();
    }
    CHECK(!h.client().peer.has_events());
    CHECK(!h.client().peer.poll_event());
    CHECK(h.client().peer.stats().waiting_data == 0);
  }
}

TEST_CASE("disconnect_now keeps the event being read in place until it is popped") {
  sim::Harness h(sim::HarnessOptions{});
  REQUIRE(connect_pair(h));
  queue_three_packets(h);
  const PeerEvent* first = h.client().peer.peek_event();
  REQUIRE(first != nullptr);
  h.client().peer.disconnect_now(1);  // as a receive callback does to its own peer
  CHECK(h.client().peer.peek_event() == first);
  CHECK(std::vector<std::uint8_t>(first->bytes().begin(), first->bytes().end()) == volley::test::pattern(100, 0));
  CHECK(h.client().peer.stats().waiting_data == 100);
  CHECK(h.client().peer.pop_event() == nullptr);
  CHECK(h.client().peer.stats().waiting_data == 0);
}

TEST_CASE("disconnect before connected: CONNECTING client and ACKNOWLEDGING_CONNECT server reset silently") {
  sim::Harness h(sim::HarnessOptions{});
  h.to_client().dead = true;
  h.connect(1, 0);
  h.run_for(100 * sim::kMillisecond);
  CHECK(h.server().peer.state() == PeerState::kAcknowledgingConnect);
  std::vector<std::uint8_t> sent;
  h.client().on_send = [&](TimePoint, Bytes d) { sent.assign(d.begin(), d.end()); };
  h.client().peer.disconnect(3);
  CHECK(h.client().peer.state() == PeerState::kDisconnected);
  h.flush();
  REQUIRE(sent.size() == 10);
  CHECK(sent[2] == 0x44);  // unacknowledged, peer id 0xFFF: the server cannot route it
  CHECK(h.client().events.empty());

  // The server, told by a routed DISCONNECT during ACKNOWLEDGING_CONNECT, resets silently.
  sim::Harness h2(sim::HarnessOptions{});
  h2.to_client().dead = true;
  h2.connect(1, 0);
  h2.run_for(100 * sim::kMillisecond);
  const std::uint8_t session = h2.server().peer.incoming_session_id();
  auto dgram = hex("80 00 00 10 84 FF 00 02 00 00 00 01");
  dgram[0] = static_cast<std::uint8_t>(0x80 | (session << 4));
  h2.server().peer.on_datagram(h2.now(), dgram);
  CHECK(h2.server().peer.state() == PeerState::kDisconnected);
  CHECK(h2.server().events.empty());
}

TEST_CASE("zombie: a pending disconnect event drops traffic until the app takes it") {
  sim::Harness h(sim::HarnessOptions{});
  REQUIRE(connect_pair(h));
  h.client().peer.disconnect_now(1);
  h.flush();
  h.to_server().take_due(h.now() + sim::kSecond);  // the real DISCONNECT never arrives
  // Drive the server alone: deliver the DISCONNECT without polling its events.
  Peer& server = h.server().peer;
  const auto dgram = hex("10 00 44 FF 00 09 00 00 00 01");
  auto copy = dgram;
  copy[0] = static_cast<std::uint8_t>(server.incoming_session_id() << 4);
  server.on_datagram(h.now(), copy);
  CHECK(server.state() == PeerState::kZombie);
  server.on_datagram(h.now(), copy);
  CHECK(server.counters()[Counter::kDropPeerNotLive] == 1);
  auto event = server.poll_event();
  REQUIRE(event);
  CHECK(event->type == PeerEvent::Type::kDisconnect);
  CHECK(event->data == 1);
  CHECK(server.state() == PeerState::kDisconnected);
}
