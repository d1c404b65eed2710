// 4,000 stock libenet 1.3.17 peers against one volley-server --mode echo: 8 ENetHosts of 500
// peers each (all from 127.0.0.1, so the per-address cap is raised), every peer connected and
// echoing one reliable packet, within generous bounds. The stats must count all 4,000.
#include <doctest/doctest.h>

#include <thread>

#include "interop/interop_support.hpp"

using namespace volley::interop;

TEST_CASE("scale: 4,000 peers from 8 libenet hosts all connect and echo") {
  EnetLibrary enet;
  constexpr std::size_t kHosts = 8;
  constexpr std::size_t kPeersPerHost = 500;
  constexpr std::size_t kPeers = kHosts * kPeersPerHost;
  EchoServer server({"--max-peers", "4096", "--per-ip-cap", "4096"});

  std::vector<std::unique_ptr<EnetClient>> clients;
  std::vector<EnetClient*> raw;
  for (std::size_t h = 0; h < kHosts; ++h) {
    clients.push_back(std::make_unique<EnetClient>(ClientOptions{.peers = kPeersPerHost, .channels = 1}));
    raw.push_back(clients.back().get());
  }
  // Connects are issued in waves of 50 per host while fewer than 400 are pending, so no host
  // floods the server with 500 CONNECTs in one burst (the kernel could drop some; libenet would
  // resend them, only 0.5-1.5 s later).
  const auto started = Clock::now();
  std::size_t issued = 0;
  auto connected_count = [&] {
    std::size_t n = 0;
    for (auto* c : raw) n += c->connects.size();
    return n;
  };
  const bool all_connected = service_all_until(
      raw,
      [&] {
        if (issued < kPeers && issued < connected_count() + 400) {
          for (std::size_t h = 0; h < kHosts; ++h) {
            for (std::size_t k = 0; k < 50 && issued < kPeers; ++k) {
              ENetPeer* p = clients[h]->connect(server.port(), static_cast<std::uint32_t>(issued), 1);
              if (p == nullptr) break;
              ++issued;
            }
          }
        }
        for (auto* c : raw) {
          REQUIRE_MESSAGE(c->disconnects.empty(), "a peer was disconnected while connecting");
        }
        return connected_count() == kPeers;
      },
      90s);
  const auto connect_ms = std::chrono::duration_cast<std::chrono::milliseconds>(Clock::now() - started).count();
  MESSAGE(connected_count(), " of ", kPeers, " connected in ", connect_ms, " ms");
  REQUIRE(all_connected);
  CHECK(connect_ms < 60000);

  // One reliable packet per peer, each tagged with its peer index, echoed back byte for byte.
  std::vector<EchoTracker> trackers(kHosts);
  std::vector<ENetPeer*> sender(kPeers);
  std::size_t sent = 0;
  for (std::size_t h = 0; h < kHosts; ++h) {
    for (ENetPeer* p : clients[h]->connects) {
      const auto seq = static_cast<std::uint32_t>(sent++);
      const auto payload = make_payload(32, 90, seq);
      trackers[h].sent(90, seq, 0, ENET_PACKET_FLAG_RELIABLE, payload);
      sender[seq] = p;
      clients[h]->send(p, 0, payload, ENET_PACKET_FLAG_RELIABLE);
    }
  }
  REQUIRE(sent == kPeers);
  const auto echo_started = Clock::now();
  auto echoed = [&] {
    std::size_t n = 0;
    for (std::size_t h = 0; h < kHosts; ++h) {
      // Each echo must come back to the very peer that sent it.
      for (const auto& r : clients[h]->received) {
        const auto seq = payload_id(r.bytes).second;
        REQUIRE(seq < kPeers);
        CHECK_MESSAGE(r.peer == sender[seq], "echo of peer ", seq, " delivered to another peer");
      }
      trackers[h].absorb(*clients[h]);
      n += trackers[h].echoed();
    }
    return n;
  };
  const bool all_echoed = service_all_until(raw, [&] { return echoed() == kPeers; }, 60s);
  MESSAGE(echoed(), " of ", kPeers, " echoed in ",
          std::chrono::duration_cast<std::chrono::milliseconds>(Clock::now() - echo_started).count(), " ms");
  CHECK(all_echoed);
  for (auto* c : raw) CHECK(c->disconnects.empty());

  const auto stats = server.stop_and_stats();
  CHECK(stats.number("connects") == kPeers);
  CHECK(stats.number("peers_peak") == kPeers);
  CHECK(stats.number("packets_in") == kPeers);
  CHECK(stats.number("packets_out") == kPeers);
  CHECK(stats.number("timeouts") == 0);
}
