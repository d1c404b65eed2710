// Bounded memory and hostile input: what a remote controls is limited by PeerConfig, and every
// rejected datagram or command is counted by reason (enet-protocol.md 1.4, 1.5, 8, 13). Crafted
// datagrams are injected into a connected server-role peer; random garbage must never crash.
#include "peer_test_util.hpp"

using namespace volley;
using namespace volley::protocol;
using volley::test::connect_pair;
using volley::test::received;

namespace {

// A datagram from the client to the server slot, with the live session and a sentTime.
std::vector<std::uint8_t> craft(const Peer& server, const std::vector<Command>& commands,
                                std::optional<std::uint16_t> sent_time = 0x1234) {
  return volley::test::datagram_to(server, commands, sent_time);
}

Command fragment(std::uint16_t rsn, std::uint16_t start, std::uint32_t count, std::uint32_t number,
                 std::uint32_t total, std::uint32_t offset, Bytes payload, std::uint8_t channel = 0) {
  return Command{CommandHeader{CommandType::kSendFragment, true, false, channel, rsn},
                 SendFragment{start, count, number, total, offset, payload}};
}

struct Connected {
  sim::Harness h{sim::HarnessOptions{}};
  Connected(PeerConfig server_config = PeerConfig::server_defaults())
      : h([&] {
          sim::HarnessOptions o;
          o.server_config = server_config;
          return o;
        }()) {
    REQUIRE(connect_pair(h, 2));
    h.run_for(sim::kSecond);
  }
  Peer& server() { return h.server().peer; }
  std::uint64_t count(Counter c) { return server().counters()[c]; }
  std::size_t acks_out_after(const std::vector<std::uint8_t>& dgram) {
    const auto before = count(Counter::kAcksOut);
    server().on_datagram(h.now(), dgram);
    std::array<std::uint8_t, kMaxMtu> buf{};
    while (server().poll_datagram(h.now(), buf) > 0) {}
    return count(Counter::kAcksOut) - before;
  }
};

}  // namespace

TEST_CASE("limits: bad fragments are errors (no ack, parsing stops), each counted") {
  Connected c;
  const std::vector<std::uint8_t> data(100, 0xAB);
  const Bytes payload(data);
  struct Bad { const char* what; Command command; Counter counter; };
  const Bad bad[] = {
      // The two configured limits (server_defaults: 8192 fragments, 4 MiB) have reasons of their own.
      {"count above limit", fragment(1, 1, 9000, 0, 9000 * 100, 0, payload), Counter::kDropFragmentCountLimit},
      {"number >= count", fragment(1, 1, 2, 2, 200, 0, payload), Counter::kDropBadFragment},
      {"total above max packet", fragment(1, 1, 2, 0, 5u * 1024 * 1024, 0, payload), Counter::kDropFragmentLengthLimit},
      {"offset >= total", fragment(1, 1, 2, 0, 200, 200, payload), Counter::kDropBadFragment},
      {"len > total - offset", fragment(1, 1, 2, 0, 150, 100, payload), Counter::kDropBadFragment},
      {"empty fragment", fragment(1, 1, 2, 0, 200, 0, Bytes()), Counter::kDropBadFragment},
      {"total < count", fragment(1, 1, 200, 0, 100, 0, payload), Counter::kDropBadFragment},
  };
  for (const auto& b : bad) {
    CAPTURE(b.what);
    const auto before = c.count(b.counter);
    const auto drops_before = c.server().counters().drops();
    const auto dgram = craft(c.server(), {b.command, Command{CommandHeader{CommandType::kPing, true, false, 0xFF, 50}, Ping{}}});
    CHECK(c.acks_out_after(dgram) == 0);  // neither the fragment nor the PING after it
    CHECK(c.count(b.counter) == before + 1);
    CHECK(c.server().counters().drops() == drops_before + 1);  // under that one reason only
  }
  // A second fragment that disagrees with the first on totalLength is an error too.
  CHECK(c.acks_out_after(craft(c.server(), {fragment(1, 1, 2, 0, 200, 0, payload)})) == 1);
  CHECK(c.acks_out_after(craft(c.server(), {fragment(2, 1, 2, 1, 300, 100, payload)})) == 0);
  CHECK(c.acks_out_after(craft(c.server(), {fragment(2, 1, 2, 1, 200, 100, payload)})) == 1);
  REQUIRE(received(c.h.server()).empty());
  c.h.flush();
  REQUIRE(received(c.h.server()).size() == 1);
  CHECK(received(c.h.server())[0].payload == std::vector<std::uint8_t>(200, 0xAB));
  CHECK(c.server().stats().waiting_data == 0);
}

TEST_CASE("limits: the waiting-data budget bounds reassembly memory - send() refuses oversize") {
  PeerConfig config = PeerConfig::server_defaults();
  config.max_waiting_data = 64 * 1024;
  Connected c(config);
  // A reliable packet larger than the budget can never be reassembled: refused, unacked.
  REQUIRE(c.h.client().peer.send(0, volley::test::pattern(100 * 1024, 1), PacketFlags::kReliable) == SendResult::kOk);
  c.h.run_for(2 * sim::kSecond);
  CHECK(c.count(Counter::kDropWaitingDataLimit) > 0);
  CHECK(c.server().stats().waiting_data <= config.max_waiting_data);
  CHECK(received(c.h.server()).empty());
  CHECK(c.server().send(0, volley::test::pattern(config.max_packet_size + 1, 1), PacketFlags::kReliable) ==
        SendResult::kTooLarge);
  CHECK(c.server().send(7, volley::test::pattern(1, 1), PacketFlags::kReliable) == SendResult::kBadChannel);
}

TEST_CASE("limits: header and pipeline drops are counted by reason") {
  Connected c;
  Peer& s = c.server();
  const Command ping{CommandHeader{CommandType::kPing, true, false, 0xFF, 60}, Ping{}};
  s.on_datagram(c.h.now(), std::vector<std::uint8_t>{0x00});
  CHECK(c.count(Counter::kDropTruncatedHeader) == 1);
  auto wrong_session = craft(s, {ping});
  wrong_session[0] ^= 0x10;
  s.on_datagram(c.h.now(), wrong_session);
  CHECK(c.count(Counter::kDropWrongSession) == 1);
  auto wrong_id = craft(s, {ping});
  wrong_id[1] ^= 0x01;  // the low bits of the header's peer id
  CHECK(c.acks_out_after(wrong_id) == 0);
  CHECK(c.count(Counter::kDropWrongPeerId) == 1);
  // An ACK echoing a sent time ahead of our clock is no RTT sample.
  const PeerStats before = s.stats();
  const auto ahead = static_cast<std::uint16_t>(enet_ms(c.h.now()) + 1000);
  const Command future_ack{CommandHeader{CommandType::kAcknowledge, false, false, 0xFF, 0}, Acknowledge{1, ahead}};
  s.on_datagram(c.h.now(), craft(s, {future_ack}));
  CHECK(c.count(Counter::kDropAckFromFuture) == 1);
  CHECK(s.stats().rtt_ms == before.rtt_ms);
  CHECK(s.stats().rtt_variance_ms == before.rtt_variance_ms);
  auto compressed = craft(s, {ping});
  compressed[0] |= 0x40;
  s.on_datagram(c.h.now(), compressed);
  CHECK(c.count(Counter::kDropCompressedNotEnabled) == 1);
  // Reliable command without header sentTime: parsing stops, no ack.
  CHECK(c.acks_out_after(craft(s, {ping}, std::nullopt)) == 0);
  CHECK(c.count(Counter::kDropAckWithoutSentTime) == 1);
  // Data on a channel >= the count (0xFF too) stops the datagram.
  const Command bad_channel{CommandHeader{CommandType::kSendReliable, true, false, 5, 1}, SendReliable{}};
  CHECK(c.acks_out_after(craft(s, {bad_channel, ping})) == 0);
  CHECK(c.count(Counter::kDropBadChannel) == 1);
  // An unknown command number ends parsing; earlier commands keep their effect.
  auto trailing = craft(s, {ping});
  trailing.insert(trailing.end(), {0x0F, 0xFF, 0x00, 0x01});
  CHECK(c.acks_out_after(trailing) == 1);
  CHECK(c.count(Counter::kDropMalformedCommand) == 1);
  // Window distance 7-8 is not acked; 9+ (old) is acked and discarded.
  const Command far{CommandHeader{CommandType::kSendReliable, true, false, 0, 7 * 4096 + 5}, SendReliable{}};
  CHECK(c.acks_out_after(craft(s, {far})) == 0);
  const Command old{CommandHeader{CommandType::kSendReliable, true, false, 0, 0xF000}, SendReliable{}};
  CHECK(c.acks_out_after(craft(s, {old})) == 1);
  CHECK(c.count(Counter::kDropOutsideWindow) == 2);
  CHECK(s.state() == PeerState::kConnected);
}

TEST_CASE("limits: a DISCONNECT without a sent time cannot pin the peer (no ack possible, no timer left)") {
  Connected c;
  Peer& s = c.server();
  const Command bye{CommandHeader{CommandType::kDisconnect, true, false, 0xFF, 70}, Disconnect{42}};
  s.on_datagram(c.h.now(), craft(s, {bye}, std::nullopt));
  CHECK(c.count(Counter::kDropAckWithoutSentTime) == 1);
  CHECK(s.state() != PeerState::kAcknowledgingDisconnect);
  c.h.run_for(sim::kSecond);
  CHECK((s.state() == PeerState::kDisconnected || s.state() == PeerState::kZombie));
  REQUIRE(!c.h.server().events.empty());
  CHECK(c.h.server().events.back().type == PeerEvent::Type::kDisconnect);
}

TEST_CASE("limits: random garbage and bit-flipped datagrams never crash a peer") {
  VOLLEY_SEEDED_RNG(rng, 11);
  Connected c;
  std::vector<std::vector<std::uint8_t>> captured;
  c.h.client().on_send = [&](TimePoint, Bytes d) { captured.emplace_back(d.begin(), d.end()); };
  for (int i = 0; i < 50; ++i) c.h.client().peer.send(i % 2, volley::test::pattern(i * 97, i), PacketFlags::kReliable);
  c.h.run_for(sim::kSecond);
  REQUIRE(!captured.empty());
  std::array<std::uint8_t, kMaxMtu> buf{};
  for (int i = 0; i < 20000; ++i) {
    std::vector<std::uint8_t> d = captured[rng() % captured.size()];
    const int mode = static_cast<int>(rng() % 3);
    if (mode == 0) {
      d.resize(rng() % 64);
      for (auto& b : d) b = static_cast<std::uint8_t>(rng());
    } else if (mode == 1) {
      for (int f = 0; f < 3; ++f) d[rng() % d.size()] ^= static_cast<std::uint8_t>(1u << (rng() % 8));
    } else {
      d.resize(rng() % (d.size() + 1));
    }
    c.server().on_datagram(c.h.now(), d);
    while (c.server().poll_datagram(c.h.now(), buf) > 0) {}
    while (c.server().poll_event()) {}
    if (c.server().state() == PeerState::kDisconnected) break;
  }
  CHECK(c.server().counters().drops() > 0);
}

TEST_CASE("limits: an incomplete unreliable-fragment packet is abandoned by a newer one, its memory returned") {
  Connected c;
  Peer& s = c.server();
  const std::vector<std::uint8_t> part(100, 0x5A);
  auto unreliable_fragment = [&](std::uint16_t usn, std::uint32_t number) {
    return Command{CommandHeader{CommandType::kSendUnreliableFragment, false, false, 1, 0},
                   SendFragment{usn, 3, number, 300, number * 100, Bytes(part)}};
  };
  s.on_datagram(c.h.now(), craft(s, {unreliable_fragment(1, 0), unreliable_fragment(1, 2)}, std::nullopt));
  CHECK(s.stats().waiting_data == 300);  // fragment 1 of 3 never arrives
  s.on_datagram(c.h.now(), craft(s, {unreliable_fragment(2, 0), unreliable_fragment(2, 1), unreliable_fragment(2, 2)},
                                 std::nullopt));
  c.h.flush();
  const auto got = received(c.h.server());
  REQUIRE(got.size() == 1);
  CHECK(got[0].delivery == Delivery::kUnreliableFragment);
  CHECK(got[0].payload == std::vector<std::uint8_t>(300, 0x5A));
  CHECK(c.count(Counter::kDropAbandonedUnreliable) == 1);
  CHECK(s.stats().waiting_data == 0);
  // A late fragment of the abandoned packet is now older than what was delivered.
  s.on_datagram(c.h.now(), craft(s, {unreliable_fragment(1, 1)}, std::nullopt));
  CHECK(c.count(Counter::kDropStaleUnreliable) == 1);
  CHECK(s.stats().waiting_data == 0);
}

TEST_CASE("limits: commands held out of order are capped per peer (max_held_commands), refused ones unacked") {
  PeerConfig config = PeerConfig::server_defaults();
  config.max_held_commands = 8;
  Connected c(config);
  Peer& s = c.server();
  // RSN 1 never arrives; 2.. wait behind it. Zero-byte payloads: the byte budget never binds.
  auto reliable = [](std::uint16_t rsn, std::uint8_t channel) {
    return Command{CommandHeader{CommandType::kSendReliable, true, false, channel, rsn}, SendReliable{}};
  };
  for (std::uint16_t r = 2; r < 2 + 4; ++r) CHECK(c.acks_out_after(craft(s, {reliable(r, 0)})) == 1);
  for (std::uint16_t r = 2; r < 2 + 4; ++r) CHECK(c.acks_out_after(craft(s, {reliable(r, 1)})) == 1);
  CHECK(s.stats().held_commands == 8);
  CHECK(c.count(Counter::kDropHeldCommandsLimit) == 0);
  // The ninth on either channel is refused: not acked (the sender will resend), counted.
  CHECK(c.acks_out_after(craft(s, {reliable(6, 0)})) == 0);
  CHECK(c.acks_out_after(craft(s, {reliable(6, 1)})) == 0);
  CHECK(c.count(Counter::kDropHeldCommandsLimit) == 2);
  CHECK(s.stats().held_commands == 8);
  // The gap fills: the held ones are delivered and the room comes back.
  CHECK(c.acks_out_after(craft(s, {reliable(1, 0)})) == 1);
  CHECK(s.stats().held_commands == 4);
  CHECK(c.acks_out_after(craft(s, {reliable(7, 0)})) == 1);
  CHECK(s.stats().held_commands == 5);
  CHECK(c.count(Counter::kDropHeldCommandsLimit) == 2);
  CHECK(s.state() == PeerState::kConnected);
}

TEST_CASE("limits: unreliable packets delivered at once take no held-command place") {
  PeerConfig config = PeerConfig::server_defaults();
  config.max_held_commands = 8;
  Connected c(config);
  Peer& s = c.server();
  const std::vector<std::uint8_t> payload(16, 0x33);
  // In order, nothing queued: each is delivered directly (no list node), so none may hold a place.
  for (std::uint16_t usn = 1; usn <= 20; ++usn) {
    s.on_datagram(c.h.now(), craft(s, {Command{CommandHeader{CommandType::kSendUnreliable, false, false, 0, 0},
                                               SendUnreliable{usn, Bytes(payload)}}}, std::nullopt));
  }
  CHECK(s.stats().held_commands == 0);
  // So the out-of-order reliable commands still have all 8 places.
  auto reliable = [](std::uint16_t rsn) {
    return Command{CommandHeader{CommandType::kSendReliable, true, false, 0, rsn}, SendReliable{}};
  };
  for (std::uint16_t r = 2; r < 2 + 8; ++r) CHECK(c.acks_out_after(craft(s, {reliable(r)})) == 1);
  CHECK(c.count(Counter::kDropHeldCommandsLimit) == 0);
}

TEST_CASE("limits: a budget shared by several peers bounds their undelivered data together") {
  SharedBudget total;
  total.limit = 3000;
  PeerConfig config = PeerConfig::server_defaults();
  config.shared_waiting = &total;
  {
    Connected a(config);
    Connected b(config);
    const std::vector<std::uint8_t> data(1000, 0x42);
    auto held = [&](std::uint16_t rsn) {  // out of order: held, its bytes owed until delivery
      return Command{CommandHeader{CommandType::kSendReliable, true, false, 0, rsn}, SendReliable{Bytes(data)}};
    };
    CHECK(a.acks_out_after(craft(a.server(), {held(2), held(3)})) == 2);
    CHECK(total.used == 2000);
    CHECK(b.acks_out_after(craft(b.server(), {held(2)})) == 1);
    CHECK(total.used == 3000);
    // Peer b is far under its own 8 MiB, but the total is spent: refused, unacked, counted.
    CHECK(b.acks_out_after(craft(b.server(), {held(3)})) == 0);
    CHECK(b.count(Counter::kDropWaitingTotalLimit) == 1);
    CHECK(b.count(Counter::kDropWaitingDataLimit) == 0);
    CHECK(total.used == 3000);
    // Peer a's connection ends: what it held comes back, and b's resent packet now fits.
    a.server().reset();
    CHECK(total.used == 1000);
    CHECK(b.acks_out_after(craft(b.server(), {held(3)})) == 1);
    CHECK(total.used == 2000);
    // b's gap fills; its bytes are owed until the application takes the packets.
    CHECK(b.acks_out_after(craft(b.server(), {held(1)})) == 1);
    CHECK(total.used == 3000);
    while (b.server().poll_event()) {}
    CHECK(total.used == 0);
    CHECK(b.acks_out_after(craft(b.server(), {held(5)})) == 1);
    CHECK(total.used == 1000);
  }
  CHECK(total.used == 0);  // peers that go return what they held
}

TEST_CASE("limits: a peer that never acks cannot make us queue without bound: send() answers kQueueFull") {
  PeerConfig config = PeerConfig::server_defaults();
  config.max_queued_data = 64 * 1024;
  Connected c(config);
  Peer& s = c.server();
  c.h.to_client().dead = true;  // from here the client hears nothing, so acks nothing
  const auto packet = volley::test::pattern(1000, 7);
  std::size_t accepted = 0;
  SendResult last = SendResult::kOk;
  for (int i = 0; i < 200 && last == SendResult::kOk; ++i) {
    last = s.send(0, packet, PacketFlags::kReliable);
    if (last == SendResult::kOk) ++accepted;
    c.h.run_for(10 * sim::kMillisecond);
  }
  CHECK(last == SendResult::kQueueFull);
  CHECK(accepted == config.max_queued_data / (1000 + kQueuedCommandCost));
  CHECK(s.stats().queued_data <= config.max_queued_data);
  CHECK(s.stats().queued_data + 1000 > config.max_queued_data);  // refused exactly at the limit
  CHECK(c.count(Counter::kDropSendQueueFull) == 1);
  // Every delivery kind counts against the same queue.
  CHECK(s.send(0, packet, PacketFlags::kUnsequenced) == SendResult::kQueueFull);
  CHECK(c.count(Counter::kDropSendQueueFull) == 2);
}
