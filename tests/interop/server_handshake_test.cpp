// The stateless handshake (docs/handshake.md) against stock libenet 1.3.17 clients: through a
// loopback relay that loses the CONNECT, the VERIFY_CONNECT or the client's ACK of it, with and
// without CRC and range coder, a stock client still connects and echoes; the server's stats show
// which recovery path ran (a resent VERIFY, or the cookie-bearing PING after a lost ACK). The same
// over IPv6 with our client-role Peer (stock ENet is IPv4-only).
#include <doctest/doctest.h>

#include "interop/interop_support.hpp"

using namespace volley::interop;
namespace vp = volley::protocol;

namespace {

enum class Lose : std::uint8_t { kNothing, kConnect, kVerify, kAck };
const char* name(Lose lose) {
  switch (lose) {
    case Lose::kNothing: return "nothing";
    case Lose::kConnect: return "CONNECT";
    case Lose::kVerify: return "VERIFY_CONNECT";
    case Lose::kAck: return "ACK";
  }
  return "?";
}

// Drops the first datagram of the chosen kind, told apart by the (never compressed) header:
// the CONNECT is the client's datagram to peer id 0xFFF, the ACK its first one to a real id,
// the VERIFY_CONNECT the server's first datagram.
LossyRelay::Drop lose_first(Lose lose) {
  return [lose, done = false](LossyRelay::Direction direction, const std::vector<std::uint8_t>& bytes) mutable {
    if (done || bytes.size() < 2) return false;
    const unsigned id = ((bytes[0] << 8) | bytes[1]) & 0x0FFF;
    const bool to_server = direction == LossyRelay::Direction::kToServer;
    const bool hit = (lose == Lose::kConnect && to_server && id == 0x0FFF) ||
                     (lose == Lose::kAck && to_server && id != 0x0FFF) ||
                     (lose == Lose::kVerify && !to_server);
    if (hit) done = true;
    return hit;
  };
}

void check_recovery(const volley::test::FlatJson& stats, Lose lose) {
  CHECK(stats.number("connects") == 1);
  CHECK(stats.number("handshake_completed") == 1);
  CHECK(stats.number("drop_host_handshake_wrong_cookie") == 0);
  CHECK(stats.number("drop_host_handshake_reply_too_large") == 0);
  CHECK(stats.number("bad_datagrams") == 0);
  switch (lose) {
    case Lose::kNothing:
    case Lose::kConnect:  // the server never saw the first one: its resend is news to it
      CHECK(stats.number("handshake_verifies_resent") == 0);
      CHECK(stats.number("handshake_probes_sent") == 0);
      break;
    case Lose::kVerify:
      CHECK(stats.number("handshake_verifies_resent") >= 1);
      break;
    case Lose::kAck:
      CHECK(stats.number("handshake_probes_sent") >= 1);
      break;
  }
}

}  // namespace

TEST_CASE("handshake: stock libenet clients connect through a lost CONNECT, VERIFY or ACK") {
  EnetLibrary enet;
  for (const bool checksum : {false, true}) {
    for (const bool range_coder : {false, true}) {
      for (const Lose lose : {Lose::kNothing, Lose::kConnect, Lose::kVerify, Lose::kAck}) {
        CAPTURE(checksum);
        CAPTURE(range_coder);
        INFO("losing the first ", std::string(name(lose)));
        std::vector<std::string> flags;
        if (checksum) flags.emplace_back("--checksum");
        if (range_coder) flags.emplace_back("--compress");
        EchoServer server(flags);
        LossyRelay relay("127.0.0.1", server.port(), lose_first(lose));
        EnetClient client({.channels = 2, .checksum = checksum, .range_coder = range_coder});
        ENetPeer* peer = client.connect(relay.port(), 7, 2);
        REQUIRE(peer != nullptr);
        auto run_until = [&](const std::function<bool()>& done) {
          const auto deadline = Clock::now() + 20s;
          while (!done() && Clock::now() < deadline) {
            relay.pump();
            client.service(1);
          }
          return done();
        };
        REQUIRE(run_until([&] { return client.connected(peer) || client.disconnected(peer); }));
        REQUIRE(client.connected(peer));
        // The connection carries data both ways (a lost ACK also lost the first PING with it).
        const auto payload = make_compressible_payload(600, 12, 1);
        client.send(peer, 1, payload, ENET_PACKET_FLAG_RELIABLE);
        REQUIRE(run_until([&] { return !client.received.empty(); }));
        CHECK(client.received.front().bytes == payload);
        CHECK(relay.dropped == (lose == Lose::kNothing ? 0 : 1));  // (the ACK goes after connecting)
        enet_peer_disconnect(peer, 0);
        CHECK(run_until([&] { return client.disconnected(peer); }));
        check_recovery(server.stop_and_stats(), lose);
      }
    }
  }
}

TEST_CASE("handshake: an IPv6 client connects through a lost CONNECT, VERIFY or ACK") {
  for (const Lose lose : {Lose::kConnect, Lose::kVerify, Lose::kAck}) {
    INFO("losing the first ", std::string(name(lose)));
    EchoServer server({}, "::");
    LossyRelay relay("::1", server.port(), lose_first(lose));
    ProtocolClient v6("::1", relay.port());
    REQUIRE(v6.peer().connect(now_us(), 2, 6, {0x61, 0x62, 0x63, 0x64}));
    auto run_until = [&](const std::function<bool()>& done) {
      const auto deadline = Clock::now() + 20s;
      while (!done() && Clock::now() < deadline) {
        relay.pump();
        v6.step(1);
      }
      return done();
    };
    REQUIRE(run_until([&] { return v6.has(vp::PeerEvent::Type::kConnect); }));
    const std::vector<std::uint8_t> payload{1, 2, 3, 4, 5};
    REQUIRE(v6.peer().send(0, payload, vp::PacketFlags::kReliable) == vp::SendResult::kOk);
    REQUIRE(run_until([&] { return v6.has(vp::PeerEvent::Type::kReceive); }));
    CHECK(relay.dropped == 1);
    v6.peer().disconnect(0);
    CHECK(run_until([&] { return v6.has(vp::PeerEvent::Type::kDisconnect); }));
    check_recovery(server.stop_and_stats(), lose);
  }
}
