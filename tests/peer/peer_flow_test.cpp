// Flow control (enet-protocol.md sections 5, 9, 11): RTT and variance arithmetic exactly as
// libenet's handle_acknowledge, the packet throttle (enet_peer_throttle) and its drop counter,
// throttle behaviour on a lossy jittery link, THROTTLE_CONFIGURE and BANDWIDTH_LIMIT handling,
// and the packet-loss statistics.
#include "peer_test_util.hpp"
#include "rtt.hpp"
#include "seq.hpp"
#include "throttle.hpp"

using namespace volley;
using namespace volley::protocol;
using volley::test::connect_pair;
using volley::test::received;

TEST_CASE("rtt: first sample, smoothing, extremes and the throttle epoch follow libenet") {
  detail::RttState rtt;
  detail::ThrottleState throttle;
  detail::rtt_apply_sample(rtt, throttle, 100, true, from_ms(1000));
  CHECK(rtt.rtt_ms == 100);
  CHECK(rtt.variance_ms == 50);
  CHECK(rtt.last_rtt_ms == 100);          // new epoch: lowest (min(500, 100)) becomes last
  CHECK(rtt.last_variance_ms == 50);
  detail::rtt_apply_sample(rtt, throttle, 180, false, from_ms(1100));
  // var = 50 - 12 + (80 / 4) = 58; rtt = 100 + 80 / 8 = 110
  CHECK(rtt.variance_ms == 58);
  CHECK(rtt.rtt_ms == 110);
  detail::rtt_apply_sample(rtt, throttle, 30, false, from_ms(1200));
  // var = 58 - 14 + 80 / 4 = 64; rtt = 110 - 80 / 8 = 100
  CHECK(rtt.variance_ms == 64);
  CHECK(rtt.rtt_ms == 100);
  CHECK(rtt.highest_variance_ms == 64);
  CHECK(detail::initial_rto_ms(rtt) == 100 + 4 * 64);
  // Sample reconstruction from the echoed 16 bits, across the 16-bit boundary.
  CHECK(detail::rtt_sample_ms(0x00010005, 0xFFF0) == 0x15u);
  CHECK(detail::rtt_sample_ms(0x00010005, 0x0004) == 1u);
  CHECK(detail::rtt_sample_ms(0x00010005, 0x0006) == std::nullopt);  // from the future: ignored
  CHECK(detail::rtt_sample_ms(0x00000005, 0xFFF0) == 0x15u);          // across the u32 wrap
}

TEST_CASE("throttle: accelerate, decelerate, jitter rule and drop counter follow enet_peer_throttle") {
  detail::RttState rtt;
  rtt.last_rtt_ms = 100;
  rtt.last_variance_ms = 10;
  detail::ThrottleState t;
  t.throttle = 20;
  CHECK(detail::throttle_on_rtt(t, rtt, 100) == 1);
  CHECK(t.throttle == 22);
  CHECK(detail::throttle_on_rtt(t, rtt, 115) == 0);  // within last + 2 var
  CHECK(detail::throttle_on_rtt(t, rtt, 121) == -1);
  CHECK(t.throttle == 20);
  t.throttle = 1;
  detail::throttle_on_rtt(t, rtt, 500);
  CHECK(t.throttle == 0);
  rtt.last_variance_ms = 100;  // mean <= variance: no throttling at all
  detail::throttle_on_rtt(t, rtt, 5000);
  CHECK(t.throttle == t.limit);
  // Counter: (c + 7) % 32 against the throttle; at 32 nothing is dropped, at 0 everything.
  detail::ThrottleState full;
  for (int i = 0; i < 64; ++i) CHECK_FALSE(detail::throttle_drops_next(full));
  detail::ThrottleState none;
  none.throttle = 0;
  int dropped = 0;
  for (int i = 0; i < 32; ++i) dropped += detail::throttle_drops_next(none);
  CHECK(dropped == 31);  // counter value 0 is never > 0
  CHECK(detail::reliable_byte_window(none, 65536, 1400) == 1400);
  CHECK(detail::send_window_for(0, 0) == 65536);
  CHECK(detail::send_window_for(0, 128 * 1024) == 8192);
  CHECK(detail::send_window_for(1 << 30, 128 * 1024) == 8192);
  CHECK(detail::send_window_for(1000, 0) == 4096);
  CHECK(detail::offered_window(0, 30000) == 30000);
  CHECK(detail::connect_window(256 * 1024) == 16384);
}

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
