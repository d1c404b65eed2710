// Handshake in both roles: byte-exact against the libenet captures of enet-protocol.md
// Appendix B (plain and CRC mode), session rotation across reconnects, MTU / window / channel
// negotiation, connect data word, VERIFY_CONNECT checks, duplicate CONNECT and VERIFY handling.
#include <array>
#include <set>
#include <string_view>

#include "peer_test_util.hpp"

using namespace volley;
using namespace volley::protocol;
using volley::test::hex;
using volley::test::to_hex;

namespace {

struct Wire {
  std::array<std::uint8_t, kMaxMtu> buf{};
  std::vector<std::uint8_t> poll(Peer& p, TimePoint now) {
    const std::size_t n = p.poll_datagram(now, buf);
    return {buf.begin(), buf.begin() + static_cast<std::ptrdiff_t>(n)};
  }
};

constexpr TimePoint at_ms(std::int64_t ms) { return from_ms(ms); }

}  // namespace

TEST_CASE("handshake: byte-exact against the libenet 1.3.17 capture (Appendix B)") {
  Peer client(PeerRole::kClient, 0);
  Peer server(PeerRole::kServer, 0);
  Wire w;
  REQUIRE(client.connect(at_ms(0xFA6B), 2, 42, {0x8C, 0x5B, 0xCA, 0xD0}));
  const auto connect = w.poll(client, at_ms(0xFA6B));
  CHECK(to_hex(connect) ==
        to_hex(hex("8F FF FA 6B 82 FF 00 01 00 00 FF FF 00 00 05 78 00 01 00 00 00 00 00 02 "
                   "00 00 00 00 00 00 00 00 00 00 13 88 00 00 00 02 00 00 00 02 8C 5B CA D0 00 00 00 2A")));
  CHECK(w.poll(client, at_ms(0xFA6B)).empty());

  const auto peeked = peek_connect(connect, PeerConfig{});
  REQUIRE(peeked);
  CHECK(peeked->data == 42);
  CHECK(peeked->params.channel_count == 2);
  CHECK(peeked->params.connect_id == std::array<std::uint8_t, 4>{0x8C, 0x5B, 0xCA, 0xD0});

  server.on_datagram(at_ms(0xFA6C), connect);
  CHECK(server.state() == PeerState::kAcknowledgingConnect);
  const auto verify = w.poll(server, at_ms(0xFA6C));
  CHECK(to_hex(verify) ==
        to_hex(hex("80 00 FA 6C 83 FF 00 01 00 00 00 00 00 00 05 78 00 01 00 00 00 00 00 02 "
                   "00 00 00 00 00 00 00 00 00 00 13 88 00 00 00 02 00 00 00 02 8C 5B CA D0")));
  CHECK(w.poll(server, at_ms(0xFA6C)).empty());  // the CONNECT is never acked

  client.on_datagram(at_ms(0xFA6D), verify);
  CHECK(client.state() == PeerState::kConnected);
  const auto ack_ping = w.poll(client, at_ms(0xFA6D));
  CHECK(to_hex(ack_ping) == to_hex(hex("80 00 FA 6D 01 FF 00 01 00 01 FA 6C 85 FF 00 02")));
  auto client_event = client.poll_event();
  REQUIRE(client_event);
  CHECK(client_event->type == PeerEvent::Type::kConnect);

  server.on_datagram(at_ms(0xFA6E), ack_ping);
  CHECK(server.state() == PeerState::kConnected);
  CHECK(to_hex(w.poll(server, at_ms(0xFA6E))) == to_hex(hex("00 00 01 FF 00 02 00 02 FA 6D")));
  auto server_event = server.poll_event();
  REQUIRE(server_event);
  CHECK(server_event->type == PeerEvent::Type::kConnect);
  CHECK(server_event->data == 42);
  CHECK(server.stats().rtt_ms == 2);  // first sample: VERIFY sent at FA6C, acked at FA6E
  CHECK(server.stats().rtt_variance_ms == 1);

  // Unreliable x2 and unsequenced vectors (captured on channel 1).
  // Fresh pair with 2 channels: reuse the established one.
  REQUIRE(server.send(1, hex("61 62 63"), PacketFlags::kUnreliable) == SendResult::kOk);
  REQUIRE(server.send(1, hex("61 62 64"), PacketFlags::kUnreliable) == SendResult::kOk);
  CHECK(to_hex(w.poll(server, at_ms(0xFA6F))) ==
        to_hex(hex("00 00 07 01 00 00 00 01 00 03 61 62 63 07 01 00 00 00 02 00 03 61 62 64")));
  REQUIRE(server.send(1, hex("78 79"), PacketFlags::kUnsequenced) == SendResult::kOk);
  CHECK(to_hex(w.poll(server, at_ms(0xFA70))) == to_hex(hex("00 00 49 01 00 00 00 01 00 02 78 79")));
}

TEST_CASE("handshake: CRC mode, byte-exact (Appendix B), seeds 0 then connectID") {
  PeerConfig config;
  config.checksum = true;
  Peer client(PeerRole::kClient, 0, config);
  Peer server(PeerRole::kServer, 0, config);
  Wire w;
  REQUIRE(client.connect(at_ms(0x40C7), 2, 42, {0xE4, 0x35, 0xDC, 0xE0}));
  const auto connect = w.poll(client, at_ms(0x40C7));
  CHECK(to_hex(connect) ==
        to_hex(hex("8F FF 40 C7 5D C9 91 09 82 FF 00 01 00 00 FF FF 00 00 05 78 00 01 00 00 00 00 00 02 "
                   "00 00 00 00 00 00 00 00 00 00 13 88 00 00 00 02 00 00 00 02 E4 35 DC E0 00 00 00 2A")));
  server.on_datagram(at_ms(0x40C8), connect);
  const auto verify = w.poll(server, at_ms(0x40C8));
  CHECK(to_hex(verify) ==
        to_hex(hex("80 00 40 C8 70 B1 46 ED 83 FF 00 01 00 00 00 00 00 00 05 78 00 01 00 00 00 00 00 02 "
                   "00 00 00 00 00 00 00 00 00 00 13 88 00 00 00 02 00 00 00 02 E4 35 DC E0")));
  client.on_datagram(at_ms(0x40C9), verify);
  CHECK(client.state() == PeerState::kConnected);

  // A corrupted CRC is dropped silently and counted.
  auto bad = verify;
  bad[5] ^= 1;
  Peer client2(PeerRole::kClient, 0, config);
  client2.connect(at_ms(0x40C7), 2, 42, {0xE4, 0x35, 0xDC, 0xE0});
  (void)w.poll(client2, at_ms(0x40C7));
  client2.on_datagram(at_ms(0x40C9), bad);
  CHECK(client2.state() == PeerState::kConnecting);
  CHECK(client2.counters()[Counter::kDropBadChecksum] == 1);
}

TEST_CASE("handshake: sessions rotate 0/0, 1/1, 2/2 across reconnects of one client slot") {
  sim::HarnessOptions o;
  sim::Harness h(o);
  for (std::uint8_t expected = 0; expected < 3; ++expected) {
    REQUIRE(volley::test::connect_pair(h));
    CHECK(h.server().peer.outgoing_session_id() == expected);
    CHECK(h.server().peer.incoming_session_id() == expected);
    CHECK(h.client().peer.incoming_session_id() == expected);
    CHECK(h.client().peer.outgoing_session_id() == expected);
    h.client().peer.disconnect(0);
    REQUIRE(h.drive_until([&] { return h.client().peer.state() == PeerState::kDisconnected &&
                                       h.server().peer.state() == PeerState::kDisconnected; },
                          10 * sim::kSecond));
  }
}

// libenet (enet_protocol_handle_connect) takes the announced session plus one, but never the
// value the slot used last, so a previous connection's late datagrams are told apart.
TEST_CASE("handshake: a new session never repeats the slot's last one, whatever the CONNECT announces") {
  Peer client(PeerRole::kClient, 0);
  Peer server(PeerRole::kServer, 0);
  Wire w;
  REQUIRE(client.connect(at_ms(1000), 2, 42, {1, 2, 3, 4}));
  auto connect = w.poll(client, at_ms(1000));
  REQUIRE(connect.size() > 11);
  REQUIRE(connect[10] == 0xFF);  // incomingSessionID: a fresh client announces none
  REQUIRE(connect[11] == 0xFF);  // outgoingSessionID
  server.on_datagram(at_ms(1001), connect);
  REQUIRE(server.outgoing_session_id() == 0);
  REQUIRE(server.incoming_session_id() == 0);
  server.reset();
  REQUIRE(server.state() == PeerState::kDisconnected);
  // Another client, whose last sessions (with some other server) were 3: plus one is 0, the
  // slot's own last value, so the slot takes 1.
  connect[10] = 3;
  connect[11] = 3;
  server.on_datagram(at_ms(2000), connect);
  CHECK(server.state() == PeerState::kAcknowledgingConnect);
  CHECK(server.outgoing_session_id() == 1);
  CHECK(server.incoming_session_id() == 1);
}

TEST_CASE("handshake: MTU, window and channel negotiation - connect data word") {
  sim::HarnessOptions o;
  o.client_config.mtu = 1400;
  o.client_config.outgoing_bandwidth = 0;
  o.server_config.mtu = 1200;               // server cap: the client adopts the smaller MTU
  o.server_config.channel_limit = 3;        // channels = min(requested, limit)
  o.server_config.incoming_bandwidth = 128 * 1024;  // offered window = (128K/64K)*4096 = 8192
  sim::Harness h(o);
  REQUIRE(volley::test::connect_pair(h, 5, 0xDEADBEEF));
  CHECK(h.client().peer.mtu() == 1200);
  CHECK(h.server().peer.mtu() == 1200);
  CHECK(h.client().peer.channel_count() == 3);
  CHECK(h.server().peer.channel_count() == 3);
  CHECK(h.client().peer.stats().window_size == 8192);
  CHECK(h.server().peer.stats().window_size == kMaxWindowSize);
  REQUIRE(h.server().events.size() >= 1);
  CHECK(h.server().events[0].type == PeerEvent::Type::kConnect);
  CHECK(h.server().events[0].data == 0xDEADBEEF);
  // MTU floor: a CONNECT below 576 is clamped up.
  sim::HarnessOptions tiny;
  tiny.client_config.mtu = 100;
  sim::Harness h2(tiny);
  REQUIRE(volley::test::connect_pair(h2));
  CHECK(h2.server().peer.mtu() == kMinMtu);
  // Datagrams respect the negotiated MTU.
  std::size_t largest = 0;
  h.server().on_send = [&](TimePoint, Bytes d) { largest = std::max(largest, d.size()); };
  REQUIRE(h.server().peer.send(0, volley::test::pattern(20000, 1), PacketFlags::kReliable) == SendResult::kOk);
  h.run_for(2 * sim::kSecond);
  CHECK(largest == 1200);
}

TEST_CASE("handshake: channel count outside 1..255 is refused - duplicate CONNECT is not re-handled") {
  Wire w;
  Peer client(PeerRole::kClient, 3);
  client.connect(from_ms(1000), 1, 0, {1, 2, 3, 4});
  auto connect = w.poll(client, from_ms(1000));
  auto zero_channels = connect;
  zero_channels[4 + 16 + 3] = 0;  // channelCount low byte (header 4 + command offset 16)
  Peer server(PeerRole::kServer, 0);
  server.on_datagram(from_ms(1001), zero_channels);
  CHECK(server.state() == PeerState::kDisconnected);
  CHECK(server.counters()[Counter::kDropBadChannelCount] == 1);
  CHECK_FALSE(peek_connect(zero_channels, PeerConfig{})->params.channel_count == 1);

  server.on_datagram(from_ms(1002), connect);
  CHECK(server.state() == PeerState::kAcknowledgingConnect);
  CHECK(server.outgoing_peer_id() == 3);
  const auto verify = w.poll(server, from_ms(1002));
  server.on_datagram(from_ms(1003), connect);  // retransmitted CONNECT reaching the slot
  CHECK(server.counters()[Counter::kDropUnexpectedConnect] == 1);
  CHECK(w.poll(server, from_ms(1003)).empty());

  // A duplicate VERIFY_CONNECT is ignored but acked again.
  client.on_datagram(from_ms(1004), verify);
  CHECK(client.state() == PeerState::kConnected);
  (void)w.poll(client, from_ms(1004));
  client.on_datagram(from_ms(1005), verify);
  const auto again = w.poll(client, from_ms(1005));
  REQUIRE(again.size() == 10);  // 2-byte header: acks alone carry no sentTime
  CHECK(again[2] == 0x01);      // an ACK
  CHECK(client.state() == PeerState::kConnected);
}

TEST_CASE("handshake: VERIFY_CONNECT that does not echo the throttle or connectID aborts") {
  Wire w;
  Peer client(PeerRole::kClient, 0);
  Peer server(PeerRole::kServer, 0);
  client.connect(from_ms(500), 1, 0, {9, 9, 9, 9});
  server.on_datagram(from_ms(501), w.poll(client, from_ms(500)));
  auto verify = w.poll(server, from_ms(501));
  verify[4 + 40] ^= 0xFF;  // connectID
  client.on_datagram(from_ms(502), verify);
  auto event = client.poll_event();
  REQUIRE(event);
  CHECK(event->type == PeerEvent::Type::kDisconnect);
  CHECK(event->reason == DisconnectReason::kVerifyMismatch);
  CHECK(client.state() == PeerState::kDisconnected);
  CHECK(client.counters()[Counter::kDropVerifyMismatch] == 1);
}

TEST_CASE("handshake: under heavy loss the CONNECT / VERIFY retransmissions still connect") {
  for (std::uint64_t seed = 1; seed <= 20; ++seed) {
    VOLLEY_SEEDED_RNG(rng, seed);
    sim::HarnessOptions o;
    o.seed = rng();
    o.to_server.loss = 0.4;
    o.to_client.loss = 0.4;
    sim::Harness h(o);
    h.connect(1, 7);
    const bool connected = h.drive_until([&] { return h.server().count(PeerEvent::Type::kConnect) == 1 &&
                                                       h.client().count(PeerEvent::Type::kConnect) == 1; },
                                         60 * sim::kSecond);
    // ENet may legitimately give up at 40% loss each way; when it does, both sides agree.
    if (!connected) {
      CHECK(h.client().peer.state() == PeerState::kDisconnected);
    } else {
      CHECK(h.server().events.front().data == 7);
    }
  }
}

TEST_CASE("handshake: in ACKNOWLEDGING_CONNECT only the VERIFY_CONNECT's ack is accepted") {
  Wire w;
  Peer client(PeerRole::kClient, 0);
  Peer server(PeerRole::kServer, 0);
  client.connect(from_ms(100), 1, 0, {1, 1, 1, 1});
  server.on_datagram(from_ms(101), w.poll(client, from_ms(100)));
  (void)w.poll(server, from_ms(101));
  // ACK for (ch 0xFF, RSN 7), then a PING: the wrong ack stops the datagram.
  server.on_datagram(from_ms(102), hex("80 00 00 66 01 FF 00 07 00 07 00 65 85 FF 00 02"));
  CHECK(server.state() == PeerState::kAcknowledgingConnect);
  CHECK(server.counters()[Counter::kDropUnexpectedAck] == 1);
  // The right one connects, and the PING behind it in the same datagram is accepted and acked.
  server.on_datagram(from_ms(103), hex("80 00 00 67 01 FF 00 01 00 01 00 65 85 FF 00 02"));
  CHECK(server.state() == PeerState::kConnected);
  const auto reply = w.poll(server, from_ms(103));
  CHECK(to_hex(reply) == to_hex(hex("00 00 01 FF 00 02 00 02 00 67")));
}

TEST_CASE("counters: every counter has a unique snake_case name usable as a JSON key") {
  std::set<std::string_view> names;
  for (std::size_t i = 0; i < kCounterCount; ++i) {
    const auto name = counter_name(static_cast<Counter>(i));
    CHECK(name != "?");
    CHECK(names.insert(name).second);
    for (char c : name) CHECK(((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '_'));
  }
}
