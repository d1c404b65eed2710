// IPv6 proof for volley-server (issue 5 item 3): with --bind :: the socket is dual-stack, so an
// IPv6 client (our client-role protocol Peer over a ::1 UDP socket, since stock ENet is
// IPv4-only) and a stock libenet 1.3.17 client over IPv4 are served side by side, at the same
// time, by the same server and port, each getting its own echoes.
#include <doctest/doctest.h>

#include <arpa/inet.h>

#include <algorithm>
#include <array>
#include <cstring>

#include "interop/interop_support.hpp"
#include "volley/protocol/peer.hpp"

using namespace volley::interop;
namespace vp = volley::protocol;

namespace {

}  // namespace

TEST_CASE("ipv6: a ::1 protocol Peer and an IPv4 libenet client on one --bind :: server") {
  EnetLibrary enet;
  EchoServer server({}, "::");
  ProtocolClient v6("::1", server.port());
  EnetClient v4({.channels = 2});

  REQUIRE(v6.peer().connect(now_us(), 2, 6, {0x11, 0x22, 0x33, 0x44}));
  ENetPeer* v4peer = v4.connect(server.port(), 4, 2);
  REQUIRE(v4peer != nullptr);
  const auto connect_deadline = Clock::now() + 20s;
  while (!(v6.peer().state() == vp::PeerState::kConnected && v4.connected(v4peer)) &&
         Clock::now() < connect_deadline) {
    v6.step(1);
    v4.service(0);
  }
  REQUIRE(v6.peer().state() == vp::PeerState::kConnected);
  REQUIRE(v4.connected(v4peer));
  // ENet's packet throttle drops unsequenced packets once RTT rises above its running mean, which
  // a slow (sanitized, loaded) run makes likely while 100 reliable packets are in flight; then all
  // 200 probes could be dropped by one side or the other. Deceleration 0 (sent to the server by
  // THROTTLE_CONFIGURE, so both directions) keeps the throttle at its full default: this test is
  // about IPv6 and dual-stack routing, and the throttle has tests of its own.
  v6.peer().throttle_configure(5000, 2, 0);

  // Both echo at the same time: 100 reliable packets each (in order, byte-exact), plus unsequenced
  // probes from the IPv6 peer until some return.
  constexpr std::uint32_t kPackets = 100;
  EchoTracker v4_tracker;
  std::vector<std::vector<std::uint8_t>> v6_sent;
  for (std::uint32_t seq = 1; seq <= kPackets; ++seq) {
    const auto p4 = make_payload(50 + seq, 100, seq);
    v4_tracker.sent(100, seq, seq % 2, ENET_PACKET_FLAG_RELIABLE, p4);
    v4.send(v4peer, static_cast<std::uint8_t>(seq % 2), p4, ENET_PACKET_FLAG_RELIABLE);
    const auto p6 = make_payload(50 + seq, 101, seq);
    v6_sent.push_back(p6);
    REQUIRE(v6.peer().send(static_cast<std::uint8_t>(seq % 2), p6, vp::PacketFlags::kReliable) == vp::SendResult::kOk);
  }
  std::vector<vp::PeerEvent> v6_echoes;
  std::size_t v6_unsequenced = 0;
  auto v6_reliable = [&] {
    for (auto& e : v6.events) {
      if (e.type != vp::PeerEvent::Type::kReceive) continue;
      const auto [tag, seq] = payload_id(e.payload);
      if (tag == 102) {
        CHECK(e.delivery == vp::Delivery::kUnsequenced);
        ++v6_unsequenced;
        continue;
      }
      REQUIRE(tag == 101);
      REQUIRE(seq >= 1);
      REQUIRE(seq <= kPackets);
      CHECK(e.delivery == vp::Delivery::kReliable);
      CHECK(e.channel == seq % 2);
      CHECK(e.payload == v6_sent[seq - 1]);
      v6_echoes.push_back(std::move(e));
    }
    std::erase_if(v6.events, [](const auto& e) { return e.type == vp::PeerEvent::Type::kReceive; });
    return v6_echoes.size();
  };
  std::uint32_t probe = 0;
  const auto echo_deadline = Clock::now() + 30s;
  while ((v6_reliable() < kPackets || v4_tracker.echoed() < kPackets || v6_unsequenced == 0) &&
         Clock::now() < echo_deadline) {
    if (v6_unsequenced == 0 && probe < 200 && v6_echoes.size() > kPackets / 2) {
      // An unsequenced probe every pass until one comes back (unsequenced may be lost).
      const auto p = make_payload(40, 102, ++probe);
      REQUIRE(v6.peer().send(0, p, vp::PacketFlags::kUnsequenced) == vp::SendResult::kOk);
    }
    v6.step(1);
    v4.service(0);
    v4_tracker.absorb(v4);
  }
  CHECK(v6_echoes.size() == kPackets);
  CHECK(v4_tracker.echoed() == kPackets);
  CHECK(v6_unsequenced >= 1);
  // In order per channel on the IPv6 side.
  std::array<std::uint32_t, 2> last{};
  for (const auto& e : v6_echoes) {
    const auto seq = payload_id(e.payload).second;
    CHECK(seq > last[e.channel]);
    last[e.channel] = seq;
  }
  CHECK(v6.datagrams_from_server > 0);
  CHECK(v6.datagrams_from_elsewhere == 0);

  // Both leave gracefully.
  v6.peer().disconnect(0);
  enet_peer_disconnect(v4peer, 0);
  const auto leave_deadline = Clock::now() + 20s;
  while (!(v6.has(vp::PeerEvent::Type::kDisconnect) && v4.disconnected(v4peer)) && Clock::now() < leave_deadline) {
    v6.step(1);
    v4.service(0);
  }
  CHECK(v6.has(vp::PeerEvent::Type::kDisconnect));
  CHECK(v4.disconnected(v4peer));
  const auto stats = server.stop_and_stats();
  CHECK(stats.number("connects") == 2);
  CHECK(stats.number("disconnects") == 2);
  CHECK(stats.number("peers_peak") == 2);
  CHECK(stats.number("packets_in") >= 2 * kPackets + 1);
}
