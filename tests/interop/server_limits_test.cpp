// volley-server --mode echo at its edges, with stock libenet 1.3.17 clients: a full server
// (--max-peers 4) refuses a fifth client while the four keep echoing, and 20,000 random or mutated
// datagrams (mutations of real captured ENet traffic, sent both from an unknown address and from
// the address of a live peer) sprayed at the port disturb neither a concurrently echoing client
// nor the server, which counts them in bad_datagrams and keeps running.
#include <doctest/doctest.h>

#include <arpa/inet.h>

#include <cstring>
#include <random>
#include <thread>

#include "interop/interop_support.hpp"
#include "support/seed.hpp"
#include "support/udp_socket.hpp"
#include "volley/vocabulary/delivery.hpp"

using namespace volley::interop;

namespace {

sockaddr_storage loopback(std::uint16_t port, socklen_t& len) {
  sockaddr_storage s{};
  auto* a = reinterpret_cast<sockaddr_in*>(&s);
  a->sin_family = AF_INET;
  a->sin_port = htons(port);
  a->sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  len = sizeof(sockaddr_in);
  return s;
}

std::uint16_t port_of(const sockaddr_storage& s) {
  return ntohs(reinterpret_cast<const sockaddr_in*>(&s)->sin_port);
}

// Ping-pong of reliable packets with in-order, byte-exact checking.
struct Echoer {
  Echoer(EnetClient& c, ENetPeer* p, std::uint32_t t) : client(c), peer(p), tag(t) {}
  EnetClient& client;
  ENetPeer* peer;
  std::uint32_t tag;
  EchoTracker tracker;
  std::uint32_t next = 0;
  std::uint32_t outstanding = 0;

  void step() {
    tracker.absorb(client);
    if (outstanding == 0 || tracker.got(tag, outstanding)) {
      outstanding = ++next;
      const auto p = make_payload(64 + next % 200, tag, outstanding);
      tracker.sent(tag, outstanding, 0, ENET_PACKET_FLAG_RELIABLE, p);
      client.send(peer, 0, p, ENET_PACKET_FLAG_RELIABLE);
    }
    client.service(0);
  }
};

}  // namespace

TEST_CASE("limits: a full server refuses the next client while the others keep echoing") {
  EnetLibrary enet;
  EchoServer server({"--max-peers", "4"});
  std::vector<std::unique_ptr<EnetClient>> clients;
  std::vector<Echoer> echoers;
  for (int i = 0; i < 4; ++i) {
    clients.push_back(std::make_unique<EnetClient>());
    ENetPeer* peer = clients.back()->connect_and_wait(server.port());
    echoers.emplace_back(*clients.back(), peer, 70u + static_cast<std::uint32_t>(i));
  }
  EnetClient extra;
  ENetPeer* refused = extra.connect(server.port(), 99);
  REQUIRE(refused != nullptr);
  // 4 s covers the CONNECT and its retransmissions at 0.5, 1.5 and 3.5 s (enet-protocol.md 6).
  const auto until = Clock::now() + 4s;
  while (Clock::now() < until) {
    for (auto& e : echoers) e.step();
    extra.service(0);
    REQUIRE_MESSAGE(!extra.connected(refused), "a fifth client connected to --max-peers 4");
    std::this_thread::sleep_for(std::chrono::microseconds(500));
  }
  // Stock libenet would stay silent; volley-server refuses at once (fast refusal, on by default)
  // with the data word a client reads as "server full".
  REQUIRE_MESSAGE(extra.disconnected(refused), "the fifth client was not refused");
  REQUIRE(extra.disconnects.size() == 1);
  CHECK(extra.disconnects.front().second == static_cast<std::uint32_t>(volley::RefusalCode::kFull));
  for (auto& e : echoers) {
    INFO("client tag ", e.tag);
    CHECK(e.tracker.echoed() >= 10);
    CHECK(e.peer->state == ENET_PEER_STATE_CONNECTED);
  }
  // Forget the refused attempt before slots free up, or a late retransmission could connect.
  enet_peer_reset(refused);
  for (std::size_t i = 0; i < clients.size(); ++i) disconnect_and_wait(*clients[i], echoers[i].peer);
  const auto stats = server.stop_and_stats();
  CHECK(stats.number("connects") == 4);
  CHECK(stats.number("peers_peak") == 4);
  CHECK(stats.number("disconnects") == 4);
}

TEST_CASE("limits: random and mutated datagrams sprayed at the port do not disturb an echoing client") {
  EnetLibrary enet;
  EchoServer server;
  VOLLEY_SEEDED_RNG(rng, 0x5a7a);

  // 1. Capture real traffic: a libenet client talks to the server through a relay socket, which
  //    records every datagram in both directions.
  volley::test::UdpSocket relay;
  socklen_t server_len = 0;
  const auto server_addr = loopback(server.port(), server_len);
  EnetClient captured_client({.channels = 2});
  ENetPeer* cpeer = captured_client.connect(relay.port());
  REQUIRE(cpeer != nullptr);
  std::vector<std::vector<std::uint8_t>> captured;
  sockaddr_storage client_addr{};
  socklen_t client_len = 0;
  auto relay_step = [&] {
    captured_client.service(0);
    while (auto d = relay.receive(1)) {
      captured.push_back(d->bytes);
      if (port_of(d->from) == server.port()) {
        if (client_len != 0) relay.send_to(d->bytes, client_addr, client_len);
      } else {
        client_addr = d->from;
        client_len = d->from_len;
        relay.send_to(d->bytes, server_addr, server_len);
      }
    }
  };
  const auto capture_deadline = Clock::now() + 20s;
  while (!captured_client.connected(cpeer) && Clock::now() < capture_deadline) relay_step();
  REQUIRE(captured_client.connected(cpeer));
  // Traffic of every kind, so the captured set holds each command type.
  captured_client.send(cpeer, 0, make_payload(100, 80, 1), ENET_PACKET_FLAG_RELIABLE);
  captured_client.send(cpeer, 1, make_payload(100, 80, 2), 0);
  captured_client.send(cpeer, 1, make_payload(100, 80, 3), ENET_PACKET_FLAG_UNSEQUENCED);
  captured_client.send(cpeer, 0, make_payload(3000, 80, 4), ENET_PACKET_FLAG_RELIABLE);
  captured_client.send(cpeer, 1, make_payload(3000, 80, 5), ENET_PACKET_FLAG_UNRELIABLE_FRAGMENT);
  enet_peer_throttle_configure(cpeer, 4000, 3, 3);
  const auto capture_until = Clock::now() + 1500ms;  // covers libenet's 1 s BANDWIDTH_LIMIT too
  while (Clock::now() < capture_until) relay_step();
  REQUIRE(captured.size() >= 10);
  MESSAGE(captured.size(), " datagrams captured");
  // The captured client stays connected but is no longer serviced or relayed: mutated datagrams
  // sent from the relay's address carry its live peer id and session.

  // 2. An echoing client of its own, directly connected.
  EnetClient client({.channels = 1});
  ENetPeer* peer = client.connect_and_wait(server.port(), 20s, 0, 1);
  Echoer echoer(client, peer, 81);

  // 3. Spray, interleaved with the echo.
  volley::test::UdpSocket stranger;
  constexpr int kSpray = 20000;
  std::uniform_int_distribution<int> byte(0, 255);
  auto mutate = [&](int i) {
    std::vector<std::uint8_t> d;
    const int kind = i % 7;
    if (kind == 0 || captured.empty()) {
      d.resize(std::uniform_int_distribution<std::size_t>(0, 1500)(rng) % (i % 5 == 0 ? 5 : 1501));
      for (auto& b : d) b = static_cast<std::uint8_t>(byte(rng));
      return d;
    }
    d = captured[std::uniform_int_distribution<std::size_t>(0, captured.size() - 1)(rng)];
    switch (kind) {
      case 1:  // a few flipped bits
        for (int k = 0, n = 1 + i % 4; k < n && !d.empty(); ++k) {
          d[std::uniform_int_distribution<std::size_t>(0, d.size() - 1)(rng)] ^=
              static_cast<std::uint8_t>(1u << (byte(rng) % 8));
        }
        break;
      case 2:  // truncated
        d.resize(std::uniform_int_distribution<std::size_t>(0, d.size())(rng));
        break;
      case 3:  // random tail
        for (int k = 0, n = 1 + byte(rng); k < n; ++k) d.push_back(static_cast<std::uint8_t>(byte(rng)));
        break;
      case 4:  // another peer id / session / flags in the header
        if (d.size() >= 2) {
          d[0] = static_cast<std::uint8_t>(byte(rng));
          d[1] = static_cast<std::uint8_t>(byte(rng));
        }
        break;
      case 5:  // a 4-byte field (counts, lengths, offsets) set to an extreme
        if (d.size() >= 8) {
          const auto at = std::uniform_int_distribution<std::size_t>(2, d.size() - 4)(rng);
          const std::uint8_t v = (i % 2 == 0) ? 0xFF : 0x00;
          std::memset(d.data() + at, v, 4);
        }
        break;
      default:  // random bytes after a real header
        for (std::size_t k = 4; k < d.size(); ++k) d[k] = static_cast<std::uint8_t>(byte(rng));
        break;
    }
    return d;
  };
  const auto started = Clock::now();
  for (int sent = 0; sent < kSpray;) {
    for (int k = 0; k < 50 && sent < kSpray; ++k, ++sent) {
      const auto d = mutate(sent);
      // Half from the captured peer's address (reaches its live slot), half from a stranger.
      if (sent % 2 == 0) relay.send_to(d, server_addr, server_len);
      else stranger.send_to(d, server_addr, server_len);
    }
    echoer.step();
    std::this_thread::sleep_for(std::chrono::microseconds(300));
    echoer.step();
    REQUIRE_MESSAGE(client.disconnects.empty(), "the echoing client was disconnected during the spray");
  }
  MESSAGE("spray of ", kSpray, " took ",
          std::chrono::duration_cast<std::chrono::milliseconds>(Clock::now() - started).count(), " ms with ",
          echoer.tracker.echoed(), " echoes meanwhile");
  // Afterwards the echo carries on: 50 more round trips, in order, byte-exact.
  const std::size_t target = echoer.tracker.echoed() + 50;
  const auto after_deadline = Clock::now() + 30s;
  while (echoer.tracker.echoed() < target && Clock::now() < after_deadline) {
    echoer.step();
    client.service(1);
  }
  CHECK(echoer.tracker.echoed() >= target);
  CHECK(client.disconnects.empty());
  CHECK(server.running());
  disconnect_and_wait(client, peer);
  const auto stats = server.stop_and_stats();
  CHECK(stats.number("bad_datagrams") > 0);
  CHECK(stats.number("connects") >= 2);
  CHECK(stats.number("packets_in") >= static_cast<double>(echoer.tracker.echoed()));
  CHECK(stats.number("datagrams_in") >= 1000);
}
