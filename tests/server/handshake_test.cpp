// The stateless handshake (docs/handshake.md) under the in-process driver, on a virtual clock:
// forged CONNECT floods make no Peer and a bounded table; a real client completes amid 100,000
// forged CONNECTs per second at 100 ms RTT (and does not with a table too small for that); wrong
// cookies drop the entry; resent CONNECTs get identical replies; lost VERIFY and lost ACK
// recover; key rotation; reply budgets; no reply larger than its request. Plus SipHash-2-4's
// reference vectors.
#include <doctest/doctest.h>

#include <algorithm>
#include <array>
#include <cstring>
#include <map>
#include <numeric>

#include "handshake_table.hpp"
#include "host_driver.hpp"
#include "siphash.hpp"
#include "support/seed.hpp"
#include "volley/protocol/datagram.hpp"

#ifdef _WIN32
#include <winsock2.h>
#else
#include <arpa/inet.h>
#include <netinet/in.h>
#endif

namespace volley::server::test {
namespace {

using protocol::PeerEvent;
using protocol::PeerState;
using Datagrams = std::vector<std::pair<std::vector<std::uint8_t>, engine::Address>>;

engine::Address v4(std::uint32_t ip, std::uint16_t port) {
  sockaddr_in sa{};
  sa.sin_family = AF_INET;
  sa.sin_port = htons(port);
  sa.sin_addr.s_addr = htonl(ip);
  return engine::Address::from_sockaddr(&sa, sizeof(sa));
}

// Not loopback, so the per-IP reply budget applies (loopback is exempt).
const engine::Address kRealClient = v4(0xC0000201, 40000);  // 192.0.2.1

HostConfig handshake_config(std::size_t half_open_entries = HandshakeConfig{}.half_open_entries) {
  HostConfig c;
  c.max_peers = 64;
  c.handshake.half_open_entries = half_open_entries;
  c.handshake_key = {1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16};
  return c;
}

// What a client-role Peer (like libenet) sends first: the template of forged CONNECTs.
std::vector<std::uint8_t> connect_datagram(const protocol::PeerConfig& config, std::uint32_t connect_id) {
  protocol::Peer p(protocol::PeerRole::kClient, 0, config);
  std::array<std::uint8_t, 4> id{};
  std::memcpy(id.data(), &connect_id, 4);
  p.connect(0, 2, 0, id);
  std::array<std::uint8_t, protocol::kMaxMtu> buf{};
  const std::size_t n = p.poll_datagram(0, buf);
  return {buf.begin(), buf.begin() + static_cast<std::ptrdiff_t>(n)};
}

// Forged CONNECTs from random 10.0.0.0/8 sources with random ports and connectIDs, never
// acknowledging: `rate` per second for `duration`, in batches of 64 on the virtual clock. Every
// reply to a forged source is checked to be no larger than its CONNECT and then discarded.
struct Flood {
  explicit Flood(std::mt19937_64& r) : rng(r), pattern(connect_datagram({}, 0)) {}

  void run(HostDriver& d, double rate, TimePoint duration) {
    const auto interval = static_cast<TimePoint>(64.0 * 1e6 / rate);
    const TimePoint end = d.now() + duration;
    std::array<std::vector<std::uint8_t>, 64> bytes;
    std::array<engine::DatagramView, 64> views;
    while (d.now() + interval <= end) {
      d.advance_to(d.now() + interval);
      for (std::size_t i = 0; i < 64; ++i) {
        bytes[i] = pattern;
        const auto connect_id = static_cast<std::uint32_t>(rng());
        std::memcpy(bytes[i].data() + 44, &connect_id, 4);  // header 4 + connectID @40
        const auto source = rng();
        views[i] = {bytes[i], v4(0x0A000000u | static_cast<std::uint32_t>(source & 0xFFFFFF),
                                 static_cast<std::uint16_t>(1024 + (source >> 24) % 60000))};
      }
      d.inject(views);
      sent += 64;
      sweep(d);
    }
  }

  // Drops (after checking) what went to forged sources; keeps the real client's datagrams.
  void sweep(HostDriver& d) {
    auto& out = d.outbound();
    std::erase_if(out, [&](const auto& datagram) {
      if (datagram.second == kRealClient) return false;
      replies += 1;
      if (datagram.first.size() > pattern.size()) oversized += 1;
      return true;
    });
  }

  std::mt19937_64& rng;
  std::vector<std::uint8_t> pattern;
  std::size_t sent = 0;
  std::size_t replies = 0;
  std::size_t oversized = 0;
};

// The Host's datagrams to one address, taken out of the outbound queue.
Datagrams take_to(HostDriver& d, const engine::Address& to) {
  Datagrams taken;
  std::erase_if(d.outbound(), [&](auto& datagram) {
    if (!(datagram.second == to)) return false;
    taken.push_back(std::move(datagram));
    return true;
  });
  return taken;
}

bool server_connected(HostDriver& d) { return d.host().stats().connects >= 1; }

}  // namespace

TEST_CASE("SipHash-2-4 reference vectors (key 00..0f, message 00..len-1)") {
  SipKey key{};
  std::iota(key.begin(), key.end(), std::uint8_t{0});
  std::array<std::uint8_t, 16> message{};
  std::iota(message.begin(), message.end(), std::uint8_t{0});
  const std::pair<std::size_t, std::uint64_t> vectors[] = {
      {0, 0x726fdb47dd0e0e31ull}, {1, 0x74f839c593dc67fdull}, {2, 0x0d6c8009d9a94f5aull},
      {7, 0xab0200f58b01d137ull}, {8, 0x93f5f5799a932462ull}, {9, 0x9e0082df0ba9e4b0ull},
      {15, 0xa129ca6149be45e5ull},
  };
  for (const auto& [length, expected] : vectors) {
    INFO("length ", length);
    CHECK(siphash24(key, std::span(message.data(), length)) == expected);
  }
}

TEST_CASE("a forged CONNECT flood creates no peer, and the table stays within its bound") {
  VOLLEY_SEEDED_RNG(rng, 1201);
  HostConfig c = handshake_config(20000);
  HostDriver d(c);
  Flood flood(rng);
  flood.run(d, 100000, 2 * kSec);  // 200,000 forged CONNECTs
  const HostStats& s = d.host().stats();
  CHECK(flood.sent >= 199000);
  CHECK(d.host().live_peers() == 0);
  CHECK(s.connects == 0);
  CHECK(d.host().half_open() <= 20000);
  CHECK(s.handshake.half_open_peak == 20000);
  CHECK(s.handshake.evicted >= flood.sent - 20000 - s.drops[static_cast<std::size_t>(HostDrop::kHandshakeRateAddress)]);
  CHECK(flood.replies == s.handshake.verifies_sent);
  CHECK(flood.oversized == 0);
  CHECK(d.timers().armed() == 0);  // no timer per entry
}

TEST_CASE("a real client completes amid 100,000 forged CONNECTs per second at 100 ms RTT") {
  VOLLEY_SEEDED_RNG(rng, 1202);
  // The default table: 131,072 entries outlive 1.3 s of such a flood. A 5,000-entry table
  // (50 ms of it) loses the client's entry before its ACK is back.
  for (const std::size_t entries : {HandshakeConfig{}.half_open_entries, std::size_t{5000}}) {
    CAPTURE(entries);
    HostDriver d(handshake_config(entries));
    Flood flood(rng);
    flood.run(d, 100000, 1 * kSec);  // the table is full of forged entries
    Client& real = d.add_client(kRealClient);
    d.connect(real);
    d.feed(d.gather());                        // CONNECT
    flood.run(d, 100000, 50 * kMs);            // VERIFY_CONNECT on its way
    d.deliver();
    REQUIRE(real.peer.state() == PeerState::kConnected);  // the client side
    const Datagrams ack = d.gather();          // its ACK (and PING)
    flood.run(d, 100000, 50 * kMs);            // ... on its way back
    d.feed(ack);
    flood.run(d, 100000, 500 * kMs);
    const HostStats& s = d.host().stats();
    CHECK(flood.oversized == 0);
    if (entries == 5000) {
      CHECK(s.connects == 0);  // evicted: this is why the table is sized to rate x RTT and more
      CHECK(s.handshake.evicted > 0);
      continue;
    }
    CHECK(s.connects == 1);
    CHECK(d.host().live_peers() == 1);  // the real one; forged sources got none
    REQUIRE(d.events.connected.size() == 1);
    // The first RTT sample comes from the entry's send time, not from the cookie.
    const auto rtt = d.host().peer(d.events.connected.front())->stats().rtt_ms;
    CHECK(rtt >= 98);  // the flood's 0.64 ms batches quantise the two 50 ms legs
    CHECK(rtt <= 101);
    CHECK(s.handshake.evicted > 0);
    CHECK(s.handshake.half_open_peak <= entries);
  }
}

TEST_CASE("a wrong cookie, in the echoed sent time or the session bits, drops the entry") {
  for (const bool session : {false, true}) {
    CAPTURE(session);
    HostDriver d(handshake_config());
    Client& real = d.add_client(kRealClient);
    d.connect(real);
    d.feed(d.gather());
    d.deliver();
    REQUIRE(real.peer.state() == PeerState::kConnected);
    Datagrams ack = d.gather();
    REQUIRE(ack.size() == 1);
    REQUIRE(ack[0].first.size() >= 12);
    REQUIRE(ack[0].first[4] == 0x01);  // the ACK comes first: header (4), ACK @4, sent time @10
    Datagrams forged = ack;
    if (session) forged[0].first[0] ^= 0x10;  // a session bit (header bits 13-12)
    else forged[0].first[11] ^= 0x01;         // the echoed sent time
    d.feed(forged);
    const HostStats& s = d.host().stats();
    CHECK(s[HostDrop::kHandshakeWrongCookie] == 1);
    CHECK(d.host().half_open() == 0);
    d.feed(ack);  // the genuine ACK now finds nothing
    CHECK(s.connects == 0);
    CHECK(d.host().live_peers() == 0);
    CHECK(s[HostDrop::kUnknownPeer] == 1);
  }
}

// libenet (enet_protocol_handle_connect) sends from the session after the one the client says it
// last used, so that connection's late datagrams are told apart; a fresh client (0xFF) gets 0.
TEST_CASE("the VERIFY_CONNECT's session is one past what the CONNECT says the client used last") {
  const std::array<std::pair<std::uint8_t, std::uint8_t>, 4> cases{{{0xFF, 0}, {0, 1}, {2, 3}, {3, 0}}};
  for (const auto& [announced, expected] : cases) {
    CAPTURE(int{announced});
    HostDriver d(handshake_config());
    auto connect = connect_datagram({}, 0x77);
    REQUIRE(connect.size() > 11);
    REQUIRE(connect[10] == 0xFF);  // incomingSessionID, after header (4), command header (4), peer id (2)
    connect[10] = announced;
    d.feed({{connect, kRealClient}});
    const Datagrams replies = take_to(d, kRealClient);
    REQUIRE(replies.size() == 1);
    const std::vector<std::uint8_t>& verify = replies[0].first;
    REQUIRE(verify.size() > 11);
    REQUIRE((verify[4] & 0x0F) == 3);  // VERIFY_CONNECT
    CHECK(verify[10] == expected);     // its incomingSessionID: the session of our datagrams
    CHECK(((verify[0] >> 4) & 3) == expected);  // and the one in its own header
  }
}

TEST_CASE("a resent CONNECT gets a byte-identical reply, even after its entry was evicted") {
  HostDriver d(handshake_config(1));
  const auto a = connect_datagram({}, 0xA);
  const auto b = connect_datagram({}, 0xB);
  const engine::Address other = v4(0xC0000202, 40000);
  d.feed({{a, kRealClient}});
  const Datagrams first = take_to(d, kRealClient);
  REQUIRE(first.size() == 1);
  CHECK(first[0].first.size() < a.size());  // VERIFY (48) is smaller than CONNECT (52)
  d.advance_to(d.now() + 300 * kMs);
  d.feed({{a, kRealClient}});  // resent while its entry lives
  CHECK(take_to(d, kRealClient) == first);
  CHECK(d.host().stats().handshake.verifies_resent == 1);
  d.feed({{b, other}});  // a one-entry table: this evicts the first entry
  CHECK(d.host().stats().handshake.evicted == 1);
  d.feed({{a, kRealClient}});  // a new entry, the same cookie (same key, same time bucket)
  CHECK(take_to(d, kRealClient) == first);
  CHECK(d.host().stats().handshake.entries_created == 3);

  SUBCASE("a rotated key gives new entries new cookies") {
    d.host().set_cookie_key(SipKey{42});
    d.feed({{b, other}});  // evicts again
    d.feed({{a, kRealClient}});
    const Datagrams rotated = take_to(d, kRealClient);
    REQUIRE(rotated.size() == 1);
    CHECK(rotated != first);
  }
}

TEST_CASE("a handshake in flight survives a key rotation") {
  HostDriver d(handshake_config());
  Client& real = d.add_client(kRealClient);
  d.connect(real);
  d.feed(d.gather());
  d.host().set_cookie_key(SipKey{7, 7, 7});
  REQUIRE(d.run_until([&] { return server_connected(d); }, 1 * kSec));
  CHECK(d.host().live_peers() == 1);
}

TEST_CASE("a lost VERIFY_CONNECT: the resent CONNECT gets it again") {
  HostDriver d(handshake_config());
  Client& real = d.add_client(kRealClient);
  d.connect(real);
  d.feed(d.gather());
  REQUIRE(take_to(d, kRealClient).size() == 1);  // lost
  REQUIRE(d.run_until([&] { return server_connected(d); }, 2 * kSec));
  CHECK(d.host().stats().handshake.verifies_resent == 1);
  CHECK(real.peer.state() == PeerState::kConnected);
}

TEST_CASE("a lost ACK: the client's next datagram draws a cookie-bearing PING, whose ACK proves it") {
  HostDriver d(handshake_config());
  Client& real = d.add_client(kRealClient);
  d.connect(real);
  d.feed(d.gather());
  d.deliver();
  REQUIRE(real.peer.state() == PeerState::kConnected);
  REQUIRE(d.gather().size() == 1);  // the ACK (with a PING) is lost
  CHECK(d.host().stats().connects == 0);
  REQUIRE(d.run_until([&] { return server_connected(d); }, 3 * kSec));
  const HostStats& s = d.host().stats();
  CHECK(s.handshake.probes_sent == 1);
  CHECK(s.handshake.completed == 1);
  CHECK(s.bad_datagrams() == 0);
  // And the connection works: a reliable echo.
  REQUIRE(real.peer.send(0, std::vector<std::uint8_t>{1, 2, 3}, protocol::PacketFlags::kReliable) ==
          protocol::SendResult::kOk);
  REQUIRE(d.run_until([&] { return real.count(PeerEvent::Type::kReceive) == 1; }, 2 * kSec));
}

TEST_CASE("stock-shaped clients connect with CRC and range coder, replies never outgrow requests") {
  for (const bool checksum : {false, true}) {
    for (const bool compress : {false, true}) {
      CAPTURE(checksum);
      CAPTURE(compress);
      HostConfig c = handshake_config();
      c.peer.checksum = checksum;
      c.peer.compress = compress;
      HostDriver d(c);
      Client& real = d.add_client(kRealClient);
      d.connect(real);
      const Datagrams request = d.gather();
      REQUIRE(request.size() == 1);
      d.feed(request);
      const Datagrams reply = take_to(d, kRealClient);
      REQUIRE(reply.size() == 1);
      MESSAGE("CONNECT ", request[0].first.size(), " bytes, VERIFY_CONNECT ", reply[0].first.size(), " bytes");
      CHECK(reply[0].first.size() <= request[0].first.size());
      d.outbound() = reply;
      REQUIRE(d.run_until([&] { return server_connected(d); }, 2 * kSec));
      REQUIRE(real.peer.send(1, std::vector<std::uint8_t>(300, 9), protocol::PacketFlags::kReliable) ==
              protocol::SendResult::kOk);
      REQUIRE(d.run_until([&] { return real.count(PeerEvent::Type::kReceive) == 1; }, 2 * kSec));
      CHECK(d.host().stats().bad_datagrams() == 0);
    }
  }
}

TEST_CASE("range coder: every stock-shaped CONNECT gets a VERIFY_CONNECT no larger than itself") {
  // Range-coded, one VERIFY in ~300 comes out 1-2 bytes longer than its CONNECT: the Host then
  // tries the next cookie variant. 5,000 clients, with and without CRC, all answered.
  for (const bool checksum : {false, true}) {
    CAPTURE(checksum);
    HostConfig c = handshake_config();
    c.peer.compress = true;
    c.peer.checksum = checksum;
    HostDriver d(c);
    protocol::PeerConfig client;
    client.compress = true;
    client.checksum = checksum;
    std::size_t answered = 0;
    for (std::uint32_t i = 0; i < 5000; ++i) {
      const auto request = connect_datagram(client, 0x9E3779B9u * (i + 1));
      d.feed({{request, v4(0xC0000000u + i, static_cast<std::uint16_t>(30000 + i))}});
      for (const auto& [bytes, to] : d.outbound()) {
        answered += 1;
        CHECK(bytes.size() <= request.size());
      }
      d.outbound().clear();
    }
    CHECK(answered == 5000);
    CHECK(d.host().stats()[HostDrop::kHandshakeReplyTooLarge] == 0);
  }
}

TEST_CASE("a forged CONNECT that compresses well gets no reply larger than itself") {
  HostConfig c = handshake_config();
  c.peer.compress = true;
  HostDriver d(c);
  // Every field the client controls set to compress as well as possible.
  protocol::Header header;
  header.sent_time = 0;
  std::array<std::uint8_t, 128> buf{};
  const std::size_t h = protocol::encode_header(header, false, buf);
  protocol::Connect connect;
  connect.params = protocol::ConnectParams{0, 0, 0, 0, 0, 1, 0, 0, 0, 0, 0, {}};
  const protocol::Command command{protocol::CommandHeader{protocol::CommandType::kConnect, true, false, 0xFF, 0},
                                  connect};
  const std::size_t n = h + protocol::encode_command(command, std::span(buf).subspan(h));
  protocol::FinishOptions options;
  options.compress = true;
  const std::size_t size = protocol::finish_datagram(std::span(buf).first(n), h, options);
  MESSAGE("crafted compressed CONNECT: ", size, " bytes");
  d.feed({{std::vector<std::uint8_t>(buf.begin(), buf.begin() + static_cast<std::ptrdiff_t>(size)), kRealClient}});
  // 16 bytes in; every cookie variant's VERIFY_CONNECT compresses to more: no reply, no entry.
  CHECK(d.outbound().empty());
  CHECK(d.host().stats().handshake.entries_created == 0);
  CHECK(d.host().stats()[HostDrop::kHandshakeReplyTooLarge] == 1);
}

TEST_CASE("handshake replies are limited per client IP and in total") {
  SUBCASE("per IP: a burst of 64, then 32 per second") {
    HostDriver d(handshake_config());
    Datagrams burst;
    for (std::uint16_t i = 0; i < 100; ++i) burst.emplace_back(connect_datagram({}, 100u + i), v4(0xC6336407, static_cast<std::uint16_t>(1000 + i)));
    d.feed(burst);
    CHECK(d.outbound().size() == 64);
    CHECK(d.host().stats()[HostDrop::kHandshakeRateAddress] == 36);
    d.outbound().clear();
    d.advance_to(d.now() + 1 * kSec);
    for (auto& [bytes, from] : burst) std::memset(bytes.data() + 44, 0xF7, 1);  // new connectIDs (the old ones are 100..199)
    d.feed(burst);
    CHECK(d.outbound().size() == 32);
    CHECK(d.host().half_open() == 96);
  }
  SUBCASE("in total, over many IPs") {
    HostConfig c = handshake_config();
    c.handshake.replies = RateLimit{1000, 10};
    HostDriver d(c);
    Datagrams burst;
    for (std::uint16_t i = 0; i < 100; ++i) burst.emplace_back(connect_datagram({}, 7), v4(0xCB007100u + i, 5000));
    d.feed(burst);
    CHECK(d.outbound().size() == 10);
    CHECK(d.host().stats()[HostDrop::kHandshakeRateGlobal] == 90);
    CHECK(d.host().half_open() == 10);  // refused before an entry was made
  }
  SUBCASE("one per-IP bucket: every IP shares the one budget") {
    HostConfig c = handshake_config();
    c.handshake.reply_buckets = 1;
    HostDriver d(c);
    Datagrams burst;
    for (std::uint16_t i = 0; i < 100; ++i) burst.emplace_back(connect_datagram({}, 300u + i), v4(0xCB007100u + i, 5000));
    d.feed(burst);
    CHECK(d.outbound().size() == 64);
    CHECK(d.host().stats()[HostDrop::kHandshakeRateAddress] == 36);
  }
}

}  // namespace volley::server::test
