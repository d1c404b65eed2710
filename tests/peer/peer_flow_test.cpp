// Flow control between two peers (enet-protocol.md sections 5, 9, 11): throttle behaviour on a
// lossy jittery link, THROTTLE_CONFIGURE and BANDWIDTH_LIMIT handling, and the packet-loss
// statistics. The RTT and throttle arithmetic on its own: rtt_throttle_test.cpp.
#include "peer_test_util.hpp"

using namespace volley;
using namespace volley::protocol;
using volley::test::connect_pair;
using volley::test::received;

TEST_CASE("throttle: latency spikes lower the throttle and drop unreliable data - calm restores it") {
  sim::HarnessOptions o;
  o.to_server.latency = o.to_client.latency = 20 * sim::kMillisecond;
  sim::Harness h(o);
  REQUIRE(connect_pair(h));
  h.run_for(6 * sim::kSecond);
  CHECK(h.server().peer.stats().packet_throttle == 32);
  // Sudden queueing delay growing over a few seconds, with loss and jitter.
  std::uint32_t lowest = 32;
  for (int i = 0; i < 400; ++i) {
    h.to_client().impairment().latency = (20 + i) * sim::kMillisecond;
    h.to_server().impairment().loss = 0.2;
    h.to_server().impairment().jitter = 10 * sim::kMillisecond;
    h.server().peer.send(0, volley::test::pattern(200, i), PacketFlags::kUnreliable);
    h.server().peer.send(1, volley::test::pattern(200, i), PacketFlags::kReliable);
    h.run_for(10 * sim::kMillisecond);
    lowest = std::min(lowest, h.server().peer.stats().packet_throttle);
  }
  CHECK(lowest < 32);
  CHECK(h.server().peer.counters()[Counter::kThrottleDropped] > 0);
  // Back to a calm link: the throttle climbs back to its limit.
  h.to_client().impairment().latency = 20 * sim::kMillisecond;
  h.to_server().impairment().loss = 0;
  h.to_server().impairment().jitter = 0;
  for (int i = 0; i < 300; ++i) {
    h.server().peer.send(1, volley::test::pattern(50, i), PacketFlags::kReliable);
    h.run_for(50 * sim::kMillisecond);
  }
  CHECK(h.server().peer.stats().packet_throttle == 32);
  std::size_t reliable = 0;
  for (const auto& e : received(h.client())) reliable += e.channel == 1;
  CHECK(reliable == 700);
}

TEST_CASE("throttle_configure and bandwidth_limit travel as 8B / 8A, are acked and applied") {
  sim::Harness h(sim::HarnessOptions{});
  REQUIRE(connect_pair(h));
  h.client().peer.throttle_configure(1000, 4, 8);
  h.client().peer.bandwidth_limit(128 * 1024, 64 * 1024);
  h.run_for(sim::kSecond);
  const auto s = h.server().peer.stats();
  CHECK(s.packet_throttle_interval_ms == 1000);
  CHECK(s.packet_throttle_acceleration == 4);
  CHECK(s.packet_throttle_deceleration == 8);
  CHECK(s.remote_incoming_bandwidth == 128 * 1024);
  CHECK(s.remote_outgoing_bandwidth == 64 * 1024);
  CHECK(s.window_size == 8192);  // server outgoing 0, client incoming 128 KiB/s
  CHECK(h.client().peer.stats().sent_unacked == 0);  // both acked
  CHECK(h.server().peer.counters().drops() == 0);
  // A CONNECT announcing a client bandwidth and a server host limit.
  sim::HarnessOptions o;
  o.client_config.outgoing_bandwidth = 256 * 1024;  // CONNECT window (256K/64K)*4096 = 16384
  o.client_config.incoming_bandwidth = 1 << 20;
  o.server_config.outgoing_bandwidth = 192 * 1024;  // server window min(192K, 1M)/64K*4096
  sim::Harness h2(o);
  REQUIRE(connect_pair(h2));
  CHECK(h2.server().peer.stats().window_size == 12288);
  CHECK(h2.client().peer.stats().window_size == 16384);
  CHECK(h2.server().peer.stats().remote_incoming_bandwidth == (1u << 20));
  CHECK(h2.client().peer.stats().remote_outgoing_bandwidth == 192 * 1024);
}

TEST_CASE("statistics: packet loss is measured over 10 s epochs - bytes and packets are counted") {
  sim::HarnessOptions o;
  o.to_server.loss = 0.2;
  o.to_client.loss = 0.2;
  sim::Harness h(o);
  REQUIRE(connect_pair(h));
  for (int i = 0; i < 600; ++i) {
    h.client().peer.send(0, volley::test::pattern(100, i), PacketFlags::kReliable);
    h.run_for(50 * sim::kMillisecond);
  }
  h.run_for(10 * sim::kSecond);
  const auto s = h.client().peer.stats();
  CHECK(s.packet_loss > 65536 / 20);  // well above 5%
  CHECK(s.packet_loss < 65536 / 2);
  const auto& c = h.client().peer.counters();
  CHECK(c[Counter::kPacketsOut] == 600);
  CHECK(c[Counter::kPayloadBytesOut] == 60000);
  CHECK(h.server().peer.counters()[Counter::kPacketsIn] == 600);
  CHECK(c[Counter::kDatagramsOut] > 600);
  CHECK(c[Counter::kBytesOut] > 60000);
}
