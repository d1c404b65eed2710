// The three ways a stock libenet 1.3.17 client leaves volley-server --mode echo, and reconnecting:
// enet_peer_disconnect (the client's DISCONNECT event arrives once the server acks), 
// enet_peer_disconnect_later (every queued packet reaches the server first, counted by its stats),
// enet_peer_disconnect_now (one unacked DISCONNECT that must free the server's slot), and 20
// connect-echo-disconnect rounds from one ENetHost, i.e. the same client address and port with
// advancing session IDs.
#include <doctest/doctest.h>

#include "interop/interop_support.hpp"

using namespace volley::interop;

namespace {

// One reliable round trip on channel 0.
void echo_once(EnetClient& client, ENetPeer* peer, std::uint32_t tag, std::uint32_t seq) {
  EchoTracker tracker;
  const auto p = make_payload(100, tag, seq);
  tracker.sent(tag, seq, 0, ENET_PACKET_FLAG_RELIABLE, p);
  client.send(peer, 0, p, ENET_PACKET_FLAG_RELIABLE);
  const bool ok = client.service_until(
      [&] {
        tracker.absorb(client);
        return tracker.got(tag, seq);
      },
      20s);
  REQUIRE_MESSAGE(ok, "no echo of tag ", tag, " seq ", seq, " within 20 s");
}

}  // namespace

TEST_CASE("disconnect: enet_peer_disconnect gets its DISCONNECT event and is counted") {
  EnetLibrary enet;
  EchoServer server;
  EnetClient client;
  ENetPeer* peer = client.connect_and_wait(server.port(), 20s, 1234);
  echo_once(client, peer, 60, 1);
  const auto started = Clock::now();
  enet_peer_disconnect(peer, 77);
  REQUIRE(client.service_until([&] { return client.disconnected(peer); }, 20s));
  MESSAGE("DISCONNECT event after ",
          std::chrono::duration_cast<std::chrono::milliseconds>(Clock::now() - started).count(), " ms");
  // libenet reports its own completed disconnect with data 0.
  CHECK(client.disconnects.back().second == 0);
  CHECK(peer->state == ENET_PEER_STATE_DISCONNECTED);
  const auto stats = server.stop_and_stats();
  CHECK(stats.number("connects") == 1);
  CHECK(stats.number("disconnects") == 1);
  CHECK(stats.number("timeouts") == 0);
  CHECK(stats.number("packets_in") == 1);
  CHECK(stats.number("packets_out") == 1);
  CHECK(stats.number("peers_peak") == 1);
}

TEST_CASE("disconnect: enet_peer_disconnect_later delivers all queued data first") {
  EnetLibrary enet;
  EchoServer server;
  EnetClient client({.channels = 2});
  ENetPeer* peer = client.connect_and_wait(server.port());
  // 400 x 1000 bytes is six times libenet's 64 KiB window: most of it is still queued on the
  // client when disconnect_later is called, and all of it must reach the server before the
  // DISCONNECT does.
  constexpr int kPackets = 400;
  for (int i = 0; i < kPackets; ++i) {
    client.send(peer, static_cast<std::uint8_t>(i % 2), make_payload(1000, 61, static_cast<std::uint32_t>(i)),
                ENET_PACKET_FLAG_RELIABLE);
  }
  enet_peer_disconnect_later(peer, 5);
  CHECK(peer->state == ENET_PEER_STATE_DISCONNECT_LATER);
  REQUIRE(client.service_until([&] { return client.disconnected(peer); }, 60s));
  const auto stats = server.stop_and_stats();
  CHECK(stats.number("packets_in") == kPackets);
  CHECK(stats.number("bytes_in") == kPackets * 1000);
  CHECK(stats.number("connects") == 1);
  CHECK(stats.number("disconnects") == 1);
  CHECK(stats.number("timeouts") == 0);
}

TEST_CASE("disconnect: enet_peer_disconnect_now frees the server slot at once") {
  EnetLibrary enet;
  // Two slots: `first` and `witness`. A third client can only connect once the server has
  // processed first's unacked DISCONNECT (44) and freed its slot; otherwise it is refused until
  // that peer times out (>= 5 s). The witness's echo round trip, sent after the 44, proves the
  // server has read the 44 (same socket, sent earlier) before the third client tries.
  EchoServer server({"--max-peers", "2"});
  EnetClient first;
  EnetClient witness;
  ENetPeer* peer = first.connect_and_wait(server.port());
  ENetPeer* wpeer = witness.connect_and_wait(server.port());
  echo_once(first, peer, 62, 1);
  enet_peer_disconnect_now(peer, 9);
  CHECK(peer->state == ENET_PEER_STATE_DISCONNECTED);
  echo_once(witness, wpeer, 62, 2);

  EnetClient third;
  const auto started = Clock::now();
  ENetPeer* next = third.connect_and_wait(server.port(), 4s);
  MESSAGE("third client connected after ",
          std::chrono::duration_cast<std::chrono::milliseconds>(Clock::now() - started).count(), " ms");
  echo_once(third, next, 62, 3);
  // disconnect_now raises no event locally.
  first.service_until([] { return false; }, 200ms);
  CHECK(first.disconnects.empty());
  disconnect_and_wait(third, next);
  disconnect_and_wait(witness, wpeer);
  const auto stats = server.stop_and_stats();
  CHECK(stats.number("connects") == 3);
  CHECK(stats.number("disconnects") == 3);
  CHECK(stats.number("timeouts") == 0);
  CHECK(stats.number("peers_peak") == 2);
}

TEST_CASE("disconnect: a CONNECT right behind a disconnect_now gets the freed slot") {
  EnetLibrary enet;
  // One slot, and the next client's CONNECT leaves right after the 44, so the server usually
  // reads both in one batch. libenet frees the slot only after that batch too, drops the CONNECT
  // and accepts its retransmission 0.5 s later (enet-protocol.md 3.1, 6): the client connects.
  // A server may refuse fast only when no slot will be free, never for a slot it is freeing.
  EchoServer server({"--max-peers", "1"});
  EnetClient first;
  ENetPeer* peer = first.connect_and_wait(server.port());
  echo_once(first, peer, 64, 1);
  EnetClient second;
  enet_peer_disconnect_now(peer, 9);
  const auto started = Clock::now();
  ENetPeer* next = second.connect_and_wait(server.port(), 4s);
  MESSAGE("second client connected after ",
          std::chrono::duration_cast<std::chrono::milliseconds>(Clock::now() - started).count(), " ms");
  echo_once(second, next, 64, 2);
  disconnect_and_wait(second, next);
  const auto stats = server.stop_and_stats();
  CHECK(stats.number("connects") == 2);
  CHECK(stats.number("disconnects") == 2);
  CHECK(stats.number("timeouts") == 0);
}

TEST_CASE("disconnect: 20 reconnects from the same client host and port") {
  EnetLibrary enet;
  EchoServer server;
  EnetClient client;  // one ENetHost: one socket, one peer slot reused 20 times
  const auto started = Clock::now();
  std::uint8_t previous_session = 0xFF;
  for (std::uint32_t round = 1; round <= 20; ++round) {
    INFO("round ", round);
    ENetPeer* peer = client.connect_and_wait(server.port(), 20s, round);
    // Each reconnect from the same slot advances the session pair (enet-protocol.md 3.1 step 6).
    CHECK(peer->outgoingSessionID != previous_session);
    previous_session = peer->outgoingSessionID;
    echo_once(client, peer, 63, round);
    disconnect_and_wait(client, peer);
  }
  MESSAGE("20 rounds took ",
          std::chrono::duration_cast<std::chrono::milliseconds>(Clock::now() - started).count(), " ms");
  const auto stats = server.stop_and_stats();
  CHECK(stats.number("connects") == 20);
  CHECK(stats.number("disconnects") == 20);
  CHECK(stats.number("timeouts") == 0);
  CHECK(stats.number("packets_in") == 20);
  CHECK(stats.number("packets_out") == 20);
  CHECK(stats.number("peers_peak") == 1);
}
