// volley-server --mode echo against a stock libenet 1.3.17 client: every delivery kind on many
// channels and on all 255, 1 MiB reliable and 100 KiB unreliable-fragment packets, zero-length
// packets and 5,000 reliable packets queued at once, each echoed with the same channel, kind and
// bytes (DESIGN.md, volley-server contract). Stats JSON numbers are checked against what was sent.
#include <doctest/doctest.h>

#include "interop/interop_support.hpp"

using namespace volley::interop;

namespace {

// Stats that every graceful single-client session must satisfy.
void check_session_stats(const volley::test::FlatJson& stats, double connects, std::uint64_t packets_sent,
                         std::uint64_t bytes_sent, std::uint64_t packets_echoed) {
  CHECK(stats.number("connects") == connects);
  CHECK(stats.number("disconnects") == connects);
  CHECK(stats.number("timeouts") == 0);
  CHECK(stats.number("peers_peak") >= 1);
  CHECK(stats.number("packets_in") >= static_cast<double>(packets_echoed));
  CHECK(stats.number("packets_in") <= static_cast<double>(packets_sent));
  CHECK(stats.number("packets_out") >= static_cast<double>(packets_echoed));
  CHECK(stats.number("packets_out") <= stats.number("packets_in"));
  CHECK(stats.number("bytes_in") <= static_cast<double>(bytes_sent));
  CHECK(stats.number("bytes_out") <= stats.number("bytes_in"));
  CHECK(stats.number("datagrams_in") >= 1);
  CHECK(stats.number("datagrams_out") >= 1);
}

}  // namespace

TEST_CASE("echo: every delivery kind on 8 channels") {
  EnetLibrary enet;
  EchoServer server;
  EnetClient client({.channels = 8});
  ENetPeer* peer = client.connect_and_wait(server.port(), 20s, 0, 8);
  CHECK(peer->channelCount == 8);
  const auto totals = exercise_every_kind(client, peer, 8, 1);
  disconnect_and_wait(client, peer);
  const auto stats = server.stop_and_stats();
  check_session_stats(stats, 1, totals.packets_sent, totals.bytes_sent, totals.packets_echoed);
  // Reliable traffic alone: 8 channels x 4 packets, all delivered.
  CHECK(stats.number("packets_in") >= 32);
}

TEST_CASE("echo: 255 channels, reliable and unreliable on each") {
  EnetLibrary enet;
  EchoServer server;
  EnetClient client({.channels = 255});
  ENetPeer* peer = client.connect_and_wait(server.port(), 20s, 0, 255);
  REQUIRE(peer->channelCount == 255);
  const auto totals = exercise_every_kind(client, peer, 255, 2, false, 2, 40);
  disconnect_and_wait(client, peer);
  const auto stats = server.stop_and_stats();
  check_session_stats(stats, 1, totals.packets_sent, totals.bytes_sent, totals.packets_echoed);
}

TEST_CASE("echo: 1 MiB reliable and 100 KiB unreliable-fragment packets byte-identical") {
  EnetLibrary enet;
  EchoServer server;
  EnetClient client({.channels = 2});
  ENetPeer* peer = client.connect_and_wait(server.port());
  EchoTracker tracker;

  const auto big = make_payload(1024 * 1024, 3, 1);
  tracker.sent(3, 1, 0, ENET_PACKET_FLAG_RELIABLE, big);
  client.send(peer, 0, big, ENET_PACKET_FLAG_RELIABLE);
  const auto started = Clock::now();
  CHECK(client.service_until(
      [&] {
        tracker.absorb(client);
        return tracker.got(3, 1);
      },
      60s));
  MESSAGE("1 MiB reliable echo took ",
          std::chrono::duration_cast<std::chrono::milliseconds>(Clock::now() - started).count(), " ms");

  // Unreliable fragments may be lost (a single lost fragment loses the packet, and either side's
  // throttle may drop it): send a fresh one until one comes back; every one that does must be exact.
  bool echoed = false;
  int tries = 0;
  for (std::uint32_t seq = 2; seq < 22 && !echoed; ++seq, ++tries) {
    const auto frag = make_payload(100 * 1024, 3, seq);
    tracker.sent(3, seq, 1, ENET_PACKET_FLAG_UNRELIABLE_FRAGMENT, frag);
    client.send(peer, 1, frag, ENET_PACKET_FLAG_UNRELIABLE_FRAGMENT);
    client.service_until(
        [&] {
          tracker.absorb(client);
          return tracker.got(3, seq);
        },
        2s);
    echoed = tracker.got(3, seq);
  }
  CHECK_MESSAGE(echoed, "no 100 KiB unreliable-fragment packet came back in 20 tries");
  MESSAGE("100 KiB unreliable fragment echoed after ", tries, " tries");
  disconnect_and_wait(client, peer);
  const auto stats = server.stop_and_stats();
  CHECK(stats.number("packets_in") >= 2);
  CHECK(stats.number("bytes_in") >= 1024 * 1024 + 100 * 1024);
  CHECK(stats.number("bytes_out") >= 1024 * 1024 + 100 * 1024);
  CHECK(stats.number("connects") == 1);
  CHECK(stats.number("disconnects") == 1);
}

TEST_CASE("echo: zero-length packets of every kind") {
  EnetLibrary enet;
  EchoServer server;
  EnetClient client({.channels = 2});
  ENetPeer* peer = client.connect_and_wait(server.port());

  // Reliable: an empty packet between two tagged ones must come back between them, on channel 1.
  const auto a = make_payload(16, 4, 1);
  const auto b = make_payload(16, 4, 2);
  client.send(peer, 1, a, ENET_PACKET_FLAG_RELIABLE);
  client.send(peer, 1, {}, ENET_PACKET_FLAG_RELIABLE);
  client.send(peer, 1, b, ENET_PACKET_FLAG_RELIABLE);
  REQUIRE(client.service_until([&] { return client.received.size() >= 3; }, 20s));
  REQUIRE(client.received.size() == 3);
  CHECK(client.received[0].bytes == a);
  CHECK(client.received[1].bytes.empty());
  CHECK(client.received[1].channel == 1);
  CHECK(client.received[1].flags == ENET_PACKET_FLAG_RELIABLE);
  CHECK(client.received[2].bytes == b);
  client.received.clear();

  // Unreliable and unsequenced empty packets: resent until one of each comes back, with its kind.
  for (const std::uint32_t flags : {0u, static_cast<std::uint32_t>(ENET_PACKET_FLAG_UNSEQUENCED)}) {
    INFO("flags ", flags);
    bool seen = false;
    for (int attempt = 0; attempt < 30 && !seen; ++attempt) {
      client.send(peer, 0, {}, flags);
      client.service_until([&] { return !client.received.empty(); }, attempt < 3 ? 1000ms : 300ms);
      for (const auto& r : client.received) {
        CHECK(r.bytes.empty());
        CHECK(r.channel == 0);
        CHECK(r.flags == flags);
        seen = true;
      }
      client.received.clear();
    }
    CHECK_MESSAGE(seen, "no empty packet echoed");
  }
  disconnect_and_wait(client, peer);
  const auto stats = server.stop_and_stats();
  CHECK(stats.number("packets_in") >= 5);
  CHECK(stats.number("bytes_in") == 32);  // only the two tagged packets carry bytes
  CHECK(stats.number("bytes_out") == 32);
}

TEST_CASE("echo: 5,000 reliable packets queued at once come back in order") {
  EnetLibrary enet;
  EchoServer server;
  EnetClient client({.channels = 2});
  ENetPeer* peer = client.connect_and_wait(server.port());
  EchoTracker tracker;
  constexpr std::uint32_t kPackets = 5000;
  std::uint64_t bytes = 0;
  // All queued before the next service call: libenet puts them on the wire under its window rules.
  for (std::uint32_t seq = 1; seq <= kPackets; ++seq) {
    const auto p = make_payload(8 + (seq * 37) % 300, 5, seq);
    bytes += p.size();
    tracker.sent(5, seq, 0, ENET_PACKET_FLAG_RELIABLE, p);
    client.send(peer, 0, p, ENET_PACKET_FLAG_RELIABLE);
  }
  const auto started = Clock::now();
  const bool all = client.service_until(
      [&] {
        tracker.absorb(client);
        return tracker.echoed() == kPackets;
      },
      60s);
  CHECK_MESSAGE(all, tracker.echoed(), " of ", kPackets, " echoed within 60 s");
  MESSAGE("5,000 reliable echoes took ",
          std::chrono::duration_cast<std::chrono::milliseconds>(Clock::now() - started).count(), " ms");
  disconnect_and_wait(client, peer);
  const auto stats = server.stop_and_stats();
  CHECK(stats.number("packets_in") == kPackets);
  CHECK(stats.number("packets_out") == kPackets);
  CHECK(stats.number("bytes_in") == static_cast<double>(bytes));
  CHECK(stats.number("bytes_out") == static_cast<double>(bytes));
  CHECK(stats.number("connects") == 1);
  CHECK(stats.number("disconnects") == 1);
}
