// The ack/RTT estimator and the packet throttle on their own, without a Peer: RTT and variance
// arithmetic exactly as libenet's handle_acknowledge, enet_peer_throttle and its drop counter,
// and the window sizes derived from bandwidth.
#include <doctest/doctest.h>

#include "rtt.hpp"
#include "throttle.hpp"

using namespace volley::protocol;

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
  CHECK(detail::throttle_on_rtt(t, rtt, 101) == 0);  // just above the last RTT: no acceleration
  CHECK(detail::throttle_on_rtt(t, rtt, 120) == 0);  // exactly last + 2 var: not yet deceleration
  CHECK(t.throttle == 22);
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
