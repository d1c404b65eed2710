// volley-server --mode echo against stock libenet 1.3.17 clients configured differently from the
// defaults: CRC32 checksums (--checksum), the range coder (--compress), MTU 576 and 4096,
// bandwidth-limited hosts, throttle reconfiguration mid-stream, and the ping-interval / timeout
// knobs on an idle connection. Each keeps echoing every delivery kind byte for byte.
#include <doctest/doctest.h>

#include <thread>

#include "interop/interop_support.hpp"

using namespace volley::interop;

TEST_CASE("echo: checksum-enabled client against --checksum") {
  EnetLibrary enet;
  EchoServer server({"--checksum"});
  EnetClient client({.channels = 4, .checksum = true});
  ENetPeer* peer = client.connect_and_wait(server.port());
  const auto totals = exercise_every_kind(client, peer, 4, 10);
  disconnect_and_wait(client, peer);
  const auto stats = server.stop_and_stats();
  CHECK(stats.number("connects") == 1);
  CHECK(stats.number("disconnects") == 1);
  CHECK(stats.number("packets_in") >= static_cast<double>(totals.packets_echoed));
}

TEST_CASE("echo: range-coder client against --compress") {
  EnetLibrary enet;
  EchoServer server({"--compress"});
  EnetClient client({.channels = 4, .range_coder = true});
  ENetPeer* peer = client.connect_and_wait(server.port());
  // Compressible payloads, so the client really sends range-coded data commands (libenet only
  // compresses when the result is shorter). No zero-length packets here: a 1.3.17 client
  // segfaults compressing one (enet-protocol.md 13).
  const auto compressible = exercise_every_kind(client, peer, 4, 11, true);
  const auto random = exercise_every_kind(client, peer, 4, 12, false);
  disconnect_and_wait(client, peer);
  const auto stats = server.stop_and_stats();
  CHECK(stats.number("connects") == 1);
  CHECK(stats.number("disconnects") == 1);
  CHECK(stats.number("packets_in") >= static_cast<double>(compressible.packets_echoed + random.packets_echoed));
}

TEST_CASE("echo: MTU 576 client") {
  EnetLibrary enet;
  EchoServer server;
  EnetClient client({.channels = 2, .mtu = 576});
  record_datagram_sizes(client.host());
  ENetPeer* peer = client.connect_and_wait(server.port());
  // The client offered 576 (the protocol minimum): the negotiated MTU cannot be anything else.
  CHECK(peer->mtu == 576);
  exercise_every_kind(client, peer, 2, 20);
  // Every datagram the server sent fits the negotiated MTU.
  CHECK(largest_datagram(client.host()) <= 576);
  CHECK(largest_datagram(client.host()) > 0);
  disconnect_and_wait(client, peer);
  const auto stats = server.stop_and_stats();
  CHECK(stats.number("connects") == 1);
}

TEST_CASE("echo: MTU 4096 client") {
  EnetLibrary enet;
  EchoServer server;
  EnetClient client({.channels = 2, .mtu = 4096});
  record_datagram_sizes(client.host());
  ENetPeer* peer = client.connect_and_wait(server.port());
  // The server may cap the MTU below 4096 (the client adopts any smaller value, enet-protocol.md
  // 3.1 step 7) but never outside ENet's range.
  CHECK(peer->mtu >= 576);
  CHECK(peer->mtu <= 4096);
  MESSAGE("negotiated MTU ", peer->mtu);
  exercise_every_kind(client, peer, 2, 21);
  CHECK(largest_datagram(client.host()) <= peer->mtu);
  disconnect_and_wait(client, peer);
  const auto stats = server.stop_and_stats();
  CHECK(stats.number("connects") == 1);
}

TEST_CASE("echo: bandwidth-limited client") {
  EnetLibrary enet;
  EchoServer server;
  // 48 KB/s down, 24 KB/s up: libenet announces both in CONNECT and BANDWIDTH_LIMIT, sizes its
  // window from them and throttles its own unreliable traffic.
  EnetClient client({.channels = 2, .incoming_bandwidth = 48000, .outgoing_bandwidth = 24000});
  ENetPeer* peer = client.connect_and_wait(server.port());
  exercise_every_kind(client, peer, 2, 30);
  // Change the limits mid-session (a BANDWIDTH_LIMIT the server must ack) and keep echoing.
  enet_host_bandwidth_limit(client.host(), 96000, 32000);
  exercise_every_kind(client, peer, 2, 31);
  CHECK(client.service_until([&] { return EnetClient::all_acked(peer); }, 10s));
  disconnect_and_wait(client, peer);
  const auto stats = server.stop_and_stats();
  CHECK(stats.number("connects") == 1);
  CHECK(stats.number("disconnects") == 1);
}

TEST_CASE("echo: throttle configuration mid-stream keeps echoing") {
  EnetLibrary enet;
  EchoServer server;
  EnetClient client({.channels = 2});
  ENetPeer* peer = client.connect_and_wait(server.port());
  EchoTracker tracker;
  std::uint32_t seq = 0;
  auto stream = [&](int n) {
    for (int i = 0; i < n; ++i) {
      const auto p = make_payload(200, 40, ++seq);
      tracker.sent(40, seq, 0, ENET_PACKET_FLAG_RELIABLE, p);
      client.send(peer, 0, p, ENET_PACKET_FLAG_RELIABLE);
      client.service(0);
      tracker.absorb(client);
    }
  };
  stream(100);
  // THROTTLE_CONFIGURE (8B) while reliable data is in flight; the server must ack it.
  enet_peer_throttle_configure(peer, 1000, 4, 8);
  stream(100);
  enet_peer_throttle_configure(peer, 200, 1, 1);
  stream(100);
  CHECK(client.service_until(
      [&] {
        tracker.absorb(client);
        return tracker.echoed() == 300;
      },
      30s));
  // Everything the client sent, the 8B commands included, has been acknowledged.
  CHECK(client.service_until([&] { return EnetClient::all_acked(peer); }, 10s));
  exercise_every_kind(client, peer, 2, 41);
  disconnect_and_wait(client, peer);
  const auto stats = server.stop_and_stats();
  CHECK(stats.number("packets_in") >= 300);
  CHECK(stats.number("disconnects") == 1);
}

TEST_CASE("echo: ping-interval and timeout knobs, idle connection stays up") {
  EnetLibrary enet;
  EchoServer server;
  EnetClient client({.channels = 1});
  ENetPeer* peer = client.connect_and_wait(server.port(), 20s, 0, 1);
  // Ping every 100 ms and give up after 3 s without any ack (limit 8, minimum 1.5 s, maximum
  // 3 s). Idle for 5 s: only the server's prompt acks of those pings keep the client connected.
  enet_peer_ping_interval(peer, 100);
  enet_peer_timeout(peer, 8, 1500, 3000);
  const auto idle_until = Clock::now() + 5s;
  while (Clock::now() < idle_until) {
    client.service(5);
    REQUIRE_MESSAGE(client.disconnects.empty(), "the idle connection dropped");
  }
  CHECK(peer->state == ENET_PEER_STATE_CONNECTED);
  exercise_every_kind(client, peer, 1, 50);
  disconnect_and_wait(client, peer);
  const auto stats = server.stop_and_stats();
  CHECK(stats.number("timeouts") == 0);
  CHECK(stats.number("disconnects") == 1);
  // About 50 pings in 5 s arrive as datagrams (acks ride on them, not counted as packets).
  CHECK(stats.number("datagrams_in") >= 25);
}

// volley-server's keepalive rule (--keepalive, docs/server.md): a serviced, idle stock client
// pings every ~500 ms on libenet's rule, so the server has no PING of its own to send under
// the default when-silent; under libenet's rule it pings too (no ACK reaches it otherwise).
TEST_CASE("echo: an idle stock client stays connected and is not pinged back by default") {
  EnetLibrary enet;
  for (const bool libenet_rule : {false, true}) {
    CAPTURE(libenet_rule);
    EchoServer server(libenet_rule ? std::vector<std::string>{"--keepalive", "libenet"} : std::vector<std::string>{});
    EnetClient client({.channels = 1});
    ENetPeer* peer = client.connect_and_wait(server.port(), 20s, 0, 1);
    const auto idle_until = Clock::now() + 3s;
    while (Clock::now() < idle_until) {
      client.service(5);
      REQUIRE_MESSAGE(client.disconnects.empty(), "the idle connection dropped");
    }
    CHECK(peer->state == ENET_PEER_STATE_CONNECTED);
    disconnect_and_wait(client, peer);
    const auto stats = server.stop_and_stats();
    CHECK(stats.number("timeouts") == 0);
    CHECK(stats.number("disconnects") == 1);
    CHECK(stats.number("datagrams_in") >= 4);  // the client's own PINGs, ~6 in 3 s
    MESSAGE("keepalive ", std::string(libenet_rule ? "libenet" : "when-silent"), ": server pings_out ",
            stats.number("pings_out"), ", datagrams_out ", stats.number("datagrams_out"));
    if (libenet_rule) {
      CHECK(stats.number("pings_out") >= 3);
    } else {
      // 0 unless this process was descheduled for over a second (a loaded CI machine).
      CHECK(stats.number("pings_out") <= 1);
    }
  }
}
