// A stock libenet 1.3.17 client that goes silent (its host is simply no longer serviced: no acks,
// no pings, no DISCONNECT) must be timed out by volley-server within ENet's bounds, using the
// server's default timeouts (the contract has no flags for them). Labelled "slow": it waits out
// the timeout itself, 5-12 s on loopback and at most about 32 s by the spec.
#include <doctest/doctest.h>

#include <thread>

#include "interop/interop_support.hpp"

using namespace volley::interop;

// The bound (enet-protocol.md 6 and 7). The server pings a peer that has gone silent (its
// default keepalive rule, --keepalive when-silent): its first PING, which goes unacked, leaves
// 2 x pingInterval + the RTT estimate (about 1 s on loopback) after the client's last datagram. From that first unacked send, ENet gives up at the first retransmission check where
// at least timeoutMinimum (5 s) has passed and the RTO has doubled up to timeoutLimit x, or where
// timeoutMaximum (30 s) has passed. On loopback the initial RTO is milliseconds, so that is
// 5-10 s; a server whose RTO is still the default 500 ms gives up after 63 x 0.5 = 31.5 s. So,
// measured from the client's last datagram: never before 6 s, and at most 1 + 31.5 = 32.5 s.
//
// How the timeout is observed: --max-peers 1, so a second client can only connect once the
// silent one's slot is freed. Its CONNECT is issued 3 s after the silence begins and libenet
// retransmits it at +0.5, +1.5, +3.5, +7.5 and +15.5 s (failing at +31.5 s, when the test retries);
// a server with fast refusal makes it retry at once. Either way the second client connects soon
// after the slot frees, and never before it, so connecting before 5.9 s means a premature timeout
// and not connecting by 40 s means none within the bound. No attempt is abandoned while the
// server might hold it half-open (that would block the slot), except after a DISCONNECT.
TEST_CASE("timeout: a silent client is timed out by the server within ENet's bounds") {
  EnetLibrary enet;
  EchoServer server({"--max-peers", "1"});
  EnetClient silent;
  ENetPeer* speer = silent.connect_and_wait(server.port());
  silent.send(speer, 0, make_payload(64, 110, 1), ENET_PACKET_FLAG_RELIABLE);
  REQUIRE(silent.service_until([&] { return !silent.received.empty() && EnetClient::all_acked(speer); }, 20s));
  // Keep it serviced briefly so RTT estimates settle on both sides, then go silent. The last
  // service call bounds the last datagram it sent.
  silent.service_until([] { return false; }, 1200ms);
  silent.service(0);
  const auto silent_since = Clock::now();

  EnetClient probe;
  std::this_thread::sleep_for(3s);
  ENetPeer* ppeer = probe.connect(server.port(), 111);
  REQUIRE(ppeer != nullptr);
  int attempts = 1;
  const auto limit = silent_since + 40s;
  while (!probe.connected(ppeer) && Clock::now() < limit) {
    probe.service(5);
    if (probe.disconnected(ppeer)) {
      // Fast refusal (or libenet's own 31.5 s give-up): nothing is pending on the server, retry.
      std::this_thread::sleep_for(100ms);
      ppeer = probe.connect(server.port(), 111);
      REQUIRE(ppeer != nullptr);
      ++attempts;
    }
  }
  const double after_s =
      std::chrono::duration_cast<std::chrono::milliseconds>(Clock::now() - silent_since).count() / 1000.0;
  MESSAGE("slot freed: second client connected ", after_s, " s after the silence began (", attempts,
          " connect attempts)");
  REQUIRE_MESSAGE(probe.connected(ppeer), "the silent client still held the only slot 40 s later");
  CHECK(after_s >= 5.9);
  CHECK(after_s <= 40.0);
  // The new peer in the freed slot works normally: it echoes and leaves gracefully.
  probe.send(ppeer, 0, make_payload(64, 111, 1), ENET_PACKET_FLAG_RELIABLE);
  CHECK_MESSAGE(probe.service_until([&] { return !probe.received.empty(); }, 10s),
                "no echo for the client that took the freed slot");
  enet_peer_disconnect(ppeer, 0);
  CHECK_MESSAGE(probe.service_until([&] { return probe.disconnected(ppeer); }, 20s),
                "no DISCONNECT event for the client that took the freed slot");

  const auto stats = server.stop_and_stats();
  CHECK(stats.number("timeouts") == 1);
  CHECK(stats.number("connects") == 2);
  CHECK(stats.number("disconnects") == 1);  // the probe only: a timeout is not also a disconnect
  CHECK(stats.number("peers_peak") == 1);
  // The silent peer was pinged (the PING whose loss ended it); the serviced probe was not.
  CHECK(stats.number("pings_out") >= 1);
}
