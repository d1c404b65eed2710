// The public Server over real loopback sockets: IPv4 and IPv6 clients side by side on one
// dual-stack socket, echo of every delivery kind, peer stats, disconnect reasons, graceful stop,
// config errors, and a game thread posting sends while the loop serves (run under tsan too).
#include <doctest/doctest.h>
#include <enet/enet.h>

#include <atomic>
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <future>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "loopback_client.hpp"
#include "running_server.hpp"
#include "volley/server/server.hpp"

namespace volley::server::test {
namespace {

using protocol::PeerEvent;
using protocol::PeerState;

std::vector<std::uint8_t> u8_of(std::size_t n, std::uint8_t seed) {
  std::vector<std::uint8_t> v(n);
  for (std::size_t i = 0; i < n; ++i) v[i] = static_cast<std::uint8_t>(seed + i * 3);
  return v;
}

const struct {
  protocol::PacketFlags flags;
  protocol::Delivery delivery;
  std::size_t size;
} kKinds[] = {
    {protocol::PacketFlags::kReliable, protocol::Delivery::kReliable, 20000},
    {protocol::PacketFlags::kUnreliable, protocol::Delivery::kUnreliable, 200},
    {protocol::PacketFlags::kUnsequenced, protocol::Delivery::kUnsequenced, 0},
    {protocol::PacketFlags::kUnreliableFragment, protocol::Delivery::kUnreliableFragment, 5000},
};

TEST_CASE("IPv4 and IPv6 clients side by side on one dual-stack socket, echo of every kind") {
  Running run;
  const std::uint16_t port = run.server->local_port();
  REQUIRE(port != 0);
  LoopbackClient v4("127.0.0.1", port);
  LoopbackClient v6("::1", port);
  v4.connect(4, 41);
  v6.connect(4, 61);
  auto both = [&] {
    v4.step(1);
    v6.step(1);
    return v4.peer().state() == PeerState::kConnected && v6.peer().state() == PeerState::kConnected;
  };
  REQUIRE(v4.run_until(both, 5000));
  for (LoopbackClient* c : {&v4, &v6}) {
    for (std::uint8_t ch = 0; ch < 4; ++ch) {
      REQUIRE(c->peer().send(ch, u8_of(kKinds[ch].size, ch), kKinds[ch].flags) == protocol::SendResult::kOk);
    }
  }
  auto echoed = [&] {
    v6.step(1);
    return v4.count(PeerEvent::Type::kReceive) == 4 && v6.count(PeerEvent::Type::kReceive) == 4;
  };
  REQUIRE(v4.run_until(echoed, 5000));
  for (LoopbackClient* c : {&v4, &v6}) {
    for (const auto& e : c->events()) {
      if (e.type != PeerEvent::Type::kReceive) continue;
      CHECK(e.delivery == kKinds[e.channel].delivery);
      CHECK(e.payload == u8_of(kKinds[e.channel].size, e.channel));
    }
  }
  CHECK(run.misaligned == 0);
  const auto connects = run.connects_copy();
  REQUIRE(connects.size() == 2);
  const auto stats = run.on_loop([&] { return run.server->peer_stats(connects[0].first); });
  REQUIRE(stats);
  CHECK(stats->packets_in == 4);
  CHECK(stats->packets_out == 4);
  CHECK(stats->channels == 4);
  CHECK((stats->address.find("127.0.0.1") != std::string::npos || stats->address.find("::1") != std::string::npos));

  v4.peer().disconnect(5);
  REQUIRE(v4.run_until([&] { return v4.count(PeerEvent::Type::kDisconnect) == 1; }, 5000));
  run.finish();  // v6 is still connected: shutdown disconnects it, counted as neither
  const ServerStats s = run.server->stats();
  CHECK(s.connects == 2);
  CHECK(s.disconnects == 1);
  CHECK(s.timeouts == 0);
  CHECK(s.packets_in == 8);
  CHECK(s.peers_peak == 2);
  REQUIRE(!run.disconnects.empty());
  CHECK(run.disconnects.front().reason == DisconnectReason::kRemote);
  CHECK(run.disconnects.front().data == 5);
}

// A game kicks a client from inside on_receive; the packets the client sent in the same
// datagram are not handed to the app after the kick (host_test.cpp has the Host's cases).
TEST_CASE("a receive callback that kicks its sender with disconnect_now hears nothing more from it") {
  Config config;
  config.bind = "127.0.0.1";
  std::atomic<std::size_t> packets{0};
  Running run(config, [&](Server& server, const Packet& p) {
    if (packets.fetch_add(1) == 0) CHECK(server.disconnect_now(p.peer, 7));
  });
  LoopbackClient c("127.0.0.1", run.server->local_port());
  c.connect(1, 0);
  REQUIRE(c.run_until([&] { return c.peer().state() == PeerState::kConnected; }, 5000));
  for (std::uint8_t i = 0; i < 3; ++i)
    REQUIRE(c.peer().send(0, u8_of(32, i), protocol::PacketFlags::kReliable) == protocol::SendResult::kOk);
  REQUIRE(c.run_until([&] { return c.count(PeerEvent::Type::kDisconnect) == 1; }, 5000));
  CHECK(c.events().back().data == 7);
  CHECK(packets == 1);
  run.finish();
  const ServerStats s = run.server->stats();
  CHECK(s.packets_in == 3);  // all three arrived; the app was handed one
  CHECK(s.peers_now == 0);
  CHECK(run.disconnects.empty());  // disconnect_now raises no event
}

TEST_CASE("stop() disconnects connected peers and returns within the grace time") {
  Config config;
  config.bind = "127.0.0.1";
  Running run(config);
  LoopbackClient c("127.0.0.1", run.server->local_port());
  c.connect(2, 0);
  // Connected on the server too: the client counts itself connected once VERIFY arrives, but
  // until its ACK reaches the server the slot is still ACKNOWLEDGING_CONNECT, which a stop resets
  // silently (no event), as libenet does.
  REQUIRE(c.run_until([&] { return !run.connects_copy().empty(); }, 5000));
  std::thread stopper([&] { run.server->stop(); });
  REQUIRE(c.run_until([&] { return c.count(PeerEvent::Type::kDisconnect) == 1; }, 5000));
  stopper.join();
  for (int i = 0; i < 20; ++i) c.step(5);  // acknowledge the DISCONNECT
  run.thread.join();
  CHECK(run.server->stats().disconnects == 0);
  CHECK(run.server->stats().timeouts == 0);
  REQUIRE(run.disconnects.size() == 1);
  CHECK(run.disconnects.front().reason == DisconnectReason::kLocal);
}

// Last words: a reliable notice sent in the same task as stop() reaches the client before its
// disconnect (stop() used libenet's disconnect, which discards what is queued: 0 of 5 arrived).
// A peer the app let go with disconnect_later before stop() keeps its own data word.
TEST_CASE("stop() delivers what was sent just before it, then disconnects") {
  Config config;
  config.bind = "127.0.0.1";
  Running run(config);
  LoopbackClient a("127.0.0.1", run.server->local_port());
  LoopbackClient b("127.0.0.1", run.server->local_port());
  const auto pump_both = [&](const std::function<bool()>& done) {
    for (int i = 0; i < 1000; ++i) {
      a.step(5);
      b.step(5);
      if (done()) return true;
    }
    return false;
  };
  // One after the other, so the server's second connect is b's (connecting both at once, either
  // handshake could finish first: under ASan b's sometimes did, and a got the data word).
  a.connect(2, 0);
  REQUIRE(pump_both([&] { return run.connects_copy().size() == 1; }));
  b.connect(2, 0);
  REQUIRE(pump_both([&] { return run.connects_copy().size() == 2; }));
  const std::vector<std::uint8_t> notice = {'b', 'y', 'e'};
  run.server->post([&] {
    const auto connects = run.connects_copy();
    for (const auto& [peer, data] : connects) {
      CHECK(run.server->send(peer, 1, notice, Delivery::kReliable) == SendResult::kOk);
    }
    // The app lets the second go itself, with its own data word.
    CHECK(run.server->disconnect_later(connects.at(1).first, 42));
    run.server->stop();
  });
  REQUIRE(pump_both([&] {
    return a.count(PeerEvent::Type::kDisconnect) == 1 && b.count(PeerEvent::Type::kDisconnect) == 1;
  }));
  for (int i = 0; i < 20; ++i) {  // acknowledge the DISCONNECTs
    a.step(5);
    b.step(5);
  }
  run.thread.join();
  for (LoopbackClient* c : {&a, &b}) {
    std::vector<PeerEvent::Type> order;
    for (const auto& e : c->events()) {
      if (e.type == PeerEvent::Type::kReceive) CHECK(e.payload == notice);
      if (e.type != PeerEvent::Type::kConnect) order.push_back(e.type);
    }
    CHECK(order == std::vector<PeerEvent::Type>{PeerEvent::Type::kReceive, PeerEvent::Type::kDisconnect});
  }
  std::uint32_t data_b = 0;
  for (const auto& e : b.events()) {
    if (e.type == PeerEvent::Type::kDisconnect) data_b = e.data;
  }
  CHECK(data_b == 42);
  CHECK(run.disconnects.size() == 2);
}

// The same seen by a stock libenet client, where it matters most: libenet drops whatever it has
// received but not yet handed to the app when a DISCONNECT arrives (enet_protocol_handle_
// disconnect resets the queues), so a notice and a DISCONNECT sent back to back lose the notice.
// The app answers "last words?" with "bye" and stop() in the same callback.
TEST_CASE("stop() right after a send: a stock libenet client gets the packet, then the disconnect") {
  REQUIRE(enet_initialize() == 0);
  Config config;
  config.bind = "127.0.0.1";
  const std::vector<std::uint8_t> bye = {'b', 'y', 'e'};
  Running run(config, [&](Server& server, const Packet& p) {
    server.send(p.peer, 0, bye, Delivery::kReliable);
    server.stop();
  });
  ENetHost* host = enet_host_create(nullptr, 1, 1, 0, 0);
  REQUIRE(host != nullptr);
  ENetAddress address{};
  enet_address_set_host_ip(&address, "127.0.0.1");
  address.port = run.server->local_port();
  ENetPeer* peer = enet_host_connect(host, &address, 1, 0);
  REQUIRE(peer != nullptr);
  std::vector<std::string> seen;  // "connect", "receive:<bytes>", "disconnect"
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(10);
  bool asked = false;
  while (std::chrono::steady_clock::now() < deadline &&
         (seen.empty() || seen.back() != "disconnect")) {
    ENetEvent event;
    while (enet_host_service(host, &event, 5) > 0) {
      if (event.type == ENET_EVENT_TYPE_CONNECT) seen.push_back("connect");
      if (event.type == ENET_EVENT_TYPE_DISCONNECT) seen.push_back("disconnect");
      if (event.type == ENET_EVENT_TYPE_RECEIVE) {
        seen.push_back("receive:" + std::string(event.packet->data, event.packet->data + event.packet->dataLength));
        enet_packet_destroy(event.packet);
      }
    }
    if (!asked && !seen.empty() && seen.front() == "connect") {
      ENetPacket* packet = enet_packet_create("last words?", 11, ENET_PACKET_FLAG_RELIABLE);
      REQUIRE(enet_peer_send(peer, 0, packet) == 0);
      asked = true;
    }
  }
  enet_host_destroy(host);
  run.thread.join();
  std::string order;
  for (const std::string& e : seen) order += e + " ";
  CHECK(order == "connect receive:bye disconnect ");
}

TEST_CASE("begin_drain(): new peers refused as shutting down, connected ones served, run() ends when they leave") {
  Config config;
  config.bind = "127.0.0.1";
  Running run(config);
  const std::uint16_t port = run.server->local_port();
  LoopbackClient a("127.0.0.1", port);
  a.connect(1, 0);
  REQUIRE(a.run_until([&] { return !run.connects_copy().empty(); }, 5000));
  CHECK(run.on_loop([&] { return run.server->stats().accepting; }));

  run.server->begin_drain(60'000);  // from this (non-loop) thread
  // Eventually the loop has taken it: figures for an exporter's readiness.
  auto drained = [&] { return run.on_loop([&] { return run.server->stats(); }); };
  ServerStats s = drained();
  CHECK(s.draining);
  CHECK_FALSE(s.accepting);
  LoopbackClient late("127.0.0.1", port);
  late.connect(1, 0);
  REQUIRE(late.run_until([&] { return late.count(PeerEvent::Type::kDisconnect) == 1; }, 5000));
  CHECK(late.events().back().data == static_cast<std::uint32_t>(RefusalCode::kShuttingDown));

  // The connected peer is still served.
  REQUIRE(a.peer().send(0, u8_of(30, 1), protocol::PacketFlags::kReliable) == protocol::SendResult::kOk);
  REQUIRE(a.run_until([&] { return a.count(PeerEvent::Type::kReceive) == 1; }, 5000));
  s = drained();
  CHECK(s.peers_now == 1);
  CHECK(s.peer_rtt_seconds.count() == 1);
  bool refusal_counted = false;
  for (const auto& [reason, n] : s.refusals) refusal_counted |= reason == "shutting_down" && n == 1;
  CHECK(refusal_counted);

  // The last peer leaves: the drain ends and run() returns by itself.
  a.peer().disconnect(0);
  REQUIRE(a.run_until([&] { return a.count(PeerEvent::Type::kDisconnect) == 1; }, 5000));
  CHECK(run.returns_within(std::chrono::seconds(5)));
  CHECK(run.server->stats().disconnects == 1);
}

// A server on 127.0.0.1 and a client that has its VERIFY, so is connected in its own eyes, but
// has not sent the ACK that makes it a peer on the server: the step that takes the VERIFY raises
// the connect event, and the ACK waits for the client's next step.
struct HalfDoneHandshake {
  HalfDoneHandshake() : run(loopback_v4()), client("127.0.0.1", run.server->local_port()) {
    client.connect(1, 0);
    REQUIRE(client.run_until([&] { return client.count(PeerEvent::Type::kConnect) == 1; }, 5000));
  }
  static Config loopback_v4() {
    Config config;
    config.bind = "127.0.0.1";
    return config;
  }
  Running run;
  LoopbackClient client;
};

TEST_CASE("begin_drain() between our VERIFY and the client's ACK: the client, connected in its own eyes, is served") {
  HalfDoneHandshake h;
  Running& run = h.run;
  LoopbackClient& a = h.client;
  CHECK(run.on_loop([&] { return run.server->stats().peers_now; }) == 0);

  run.server->begin_drain(60'000);
  // The drain finds no peer; it must not end while the handshake can still finish.
  REQUIRE(a.peer().send(0, u8_of(20, 7), protocol::PacketFlags::kReliable) == protocol::SendResult::kOk);
  REQUIRE(a.run_until([&] { return a.count(PeerEvent::Type::kReceive) == 1; }, 5000));
  CHECK(a.count(PeerEvent::Type::kDisconnect) == 0);

  a.peer().disconnect(0);
  REQUIRE(a.run_until([&] { return a.count(PeerEvent::Type::kDisconnect) == 1; }, 5000));
  CHECK(run.returns_within(std::chrono::seconds(5)));
  CHECK(run.server->stats().disconnects == 1);
}

TEST_CASE("begin_drain() with only a handshake that never completes: run() returns after the handshake wait") {
  HalfDoneHandshake h;  // the client never steps again: its ACK is never sent
  Running& run = h.run;
  const auto began = std::chrono::steady_clock::now();
  run.server->begin_drain(60'000);
  CHECK(run.returns_within(std::chrono::seconds(10)));
  const auto waited = std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::steady_clock::now() - began);
  INFO("run() returned ", waited.count(), " ms after begin_drain");
  CHECK(waited.count() >= 1500);  // 2 s after the entry was made, a few ms before the drain
  CHECK(run.server->stats().peers_peak == 0);
}

TEST_CASE("a game thread posting sends into the server is safe") {
  Running run;
  LoopbackClient c("127.0.0.1", run.server->local_port());
  c.connect(2, 0);
  REQUIRE(c.run_until([&] { return !run.connects_copy().empty(); }, 5000));
  const PeerHandle peer = run.connects_copy().at(0).first;
  constexpr int kSends = 1000;
  std::atomic<int> accepted{0};
  std::thread game([&] {
    for (int i = 0; i < kSends; ++i) {
      run.server->post([&, i] {
        const auto payload = u8_of(8, static_cast<std::uint8_t>(i));
        if (run.server->send(peer, 1, payload, Delivery::kReliable) == SendResult::kOk) accepted += 1;
      });
      if (i % 100 == 0) std::this_thread::yield();
    }
  });
  std::thread reader([&] {
    for (int i = 0; i < 50; ++i) {
      run.server->post([&] { (void)run.server->stats(); (void)run.server->peer_count(); });
    }
  });
  REQUIRE(c.run_until([&] { return c.count(PeerEvent::Type::kReceive) == kSends; }, 20000));
  game.join();
  reader.join();
  CHECK(accepted.load() == kSends);
  // A Delivery value outside the four is refused, not sent as some delivery (it went unreliable).
  CHECK(run.on_loop([&] { return run.server->send(peer, 1, u8_of(8, 0), static_cast<Delivery>(77)); }) ==
        SendResult::kBadDelivery);
  CHECK(run.on_loop([&] { return run.server->send(peer, 1, u8_of(8, 0), Delivery::kCount); }) ==
        SendResult::kBadDelivery);
  CHECK(run.on_loop([&] { return run.server->broadcast(1, u8_of(8, 0), Delivery::kCount); }) == 0);
  int i = 0;
  for (const auto& e : c.events()) {
    if (e.type != PeerEvent::Type::kReceive) continue;
    CHECK(e.payload == u8_of(8, static_cast<std::uint8_t>(i++)));  // in order, reliable
  }
  // A stale handle after the peer left is simply not found.
  c.peer().disconnect_now(0);
  for (int k = 0; k < 10; ++k) c.step(5);
  const bool gone = [&] {
    for (int k = 0; k < 200; ++k) {
      if (run.on_loop([&] { return run.server->peer_count(); }) == 0) return true;
      std::this_thread::sleep_for(std::chrono::milliseconds(5));
    }
    return false;
  }();
  REQUIRE(gone);
  CHECK(run.on_loop([&] { return run.server->send(peer, 0, u8_of(1, 0), Delivery::kReliable); }) ==
        SendResult::kNoSuchPeer);
}

TEST_CASE("datagrams too large for the receive buffer are counted received and bad") {
  Config config;
  config.bind = "127.0.0.1";
  Running running(config);
  sockaddr_storage to{};
  auto* a = reinterpret_cast<sockaddr_in*>(&to);
  a->sin_family = AF_INET;
  a->sin_port = htons(running.server->local_port());
  inet_pton(AF_INET, "127.0.0.1", &a->sin_addr);
  volley::test::UdpSocket socket("127.0.0.1");
  const std::vector<std::uint8_t> big(9000, 0x5A), junk(3, 0x01);
  for (int i = 0; i < 5; ++i) socket.send_to(big, to, sizeof(sockaddr_in));
  for (int i = 0; i < 3; ++i) socket.send_to(junk, to, sizeof(sockaddr_in));
  ServerStats stats;
  for (int i = 0; i < 200; ++i) {
    stats = running.on_loop([&] { return running.server->stats(); });
    if (stats.bad_datagrams >= 8) break;
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  CHECK(stats.bad_datagrams == 8);
  CHECK(stats.datagrams_in == 8);  // the 5 oversized ones were received too
}

TEST_CASE("config errors come back as one-line strings") {
  auto error_of = [](Config c) {
    auto created = Server::create(c);
    CHECK(!created);
    CHECK(created.error.find('\n') == std::string::npos);
    return created.error;
  };
  Config c;
  c.bind = "not-an-ip";
  CHECK(error_of(c).find("bind") != std::string::npos);
  c = {};
  c.mtu = 100;
  CHECK(error_of(c).find("mtu") != std::string::npos);
  c = {};
  c.backend = "kqueue";
  CHECK(error_of(c).find("backend") != std::string::npos);
  c = {};
  c.channel_limit = 0;
  CHECK(error_of(c).find("channel") != std::string::npos);
  c = {};
  c.max_peers = 0;
  CHECK(error_of(c).find("max_peers") != std::string::npos);
  // Values that were taken and then misbehaved: every peer ended at once, events never shown.
  c = {};
  c.timeout_minimum_ms = 0;
  CHECK(error_of(c).find("timeout_minimum_ms") != std::string::npos);
  c = {};
  c.coalesce_us = 0xFFFFFFFFu;
  CHECK(error_of(c).find("coalesce_us") != std::string::npos);
  c = {};
  c.snapshots.event_max_age_ticks = 0;
  CHECK(error_of(c).find("event_max_age_ticks") != std::string::npos);
  c = {};
  c.snapshots.budget_bytes = 100;
  CHECK(error_of(c).find("budget_bytes") != std::string::npos);
  c = {};
  c.snapshots.max_stride = 0;
  CHECK(error_of(c).find("max_stride") != std::string::npos);
}

TEST_CASE("config: a bracketed IPv6 bind address, as local_address() prints it, is taken") {
  Config c;
  c.bind = "[::1]";
  auto created = Server::create(c);
  REQUIRE_MESSAGE(created, created.error);
  CHECK(created.server->local_address().rfind("[::1]:", 0) == 0);
  c.bind = "[::1";
  CHECK_FALSE(Server::create(c));
}

}  // namespace
}  // namespace volley::server::test
