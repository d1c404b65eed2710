// NapRule on a hand-driven clock: when napping starts (two deliveries within the cap), what
// ends it, and the hold after empty naps (doubling to 64 deliveries, halved by naps that
// gathered). The backends' loop tests show the same rule on real sockets.
#include <doctest/doctest.h>

#include "nap_rule.hpp"

using volley::engine::NapRule;
using volley::engine::TimePoint;

namespace {

constexpr std::uint32_t kCap = 200;

// Deliveries of one datagram each, `gap` apart from `t` on, until napping starts; returns how
// many it took (0 if it had not started after `limit`).
int deliveries_to_start(NapRule& rule, TimePoint& t, TimePoint gap = kCap / 2, int limit = 1'000) {
  for (int n = 1; n <= limit; ++n) {
    t += gap;
    rule.after_wait(1, t, false, false);
    if (rule.napping()) return n;
  }
  return 0;
}

}  // namespace

TEST_CASE("nap rule: a cap of 0 never naps") {
  NapRule rule(0);
  TimePoint t = 1'000'000;
  CHECK(deliveries_to_start(rule, t, 1) == 0);
}

TEST_CASE("nap rule: napping starts on a delivery within the cap of the one before, not further") {
  NapRule rule(kCap);
  TimePoint t = 1'000'000;
  rule.after_wait(1, t, false, false);
  CHECK_FALSE(rule.napping());
  t += kCap + 1;
  rule.after_wait(3, t, false, false);
  CHECK_FALSE(rule.napping());
  t += kCap;  // exactly the cap: a nap of the cap would have gathered both
  rule.after_wait(1, t, false, false);
  CHECK(rule.napping());
}

TEST_CASE("nap rule: a wait that delivered nothing, or stopped at its round limit, ends the napping") {
  for (const bool round_limited : {false, true}) {
    CAPTURE(round_limited);
    NapRule rule(kCap);
    TimePoint t = 1'000'000;
    REQUIRE(deliveries_to_start(rule, t) == 2);
    rule.after_wait(round_limited ? 64 : 0, t + 10, round_limited, true);
    CHECK_FALSE(rule.napping());
    CHECK(rule.hold() == 0);  // not an empty nap: the next close delivery starts napping again
    CHECK(deliveries_to_start(rule, t) == 1);
  }
}

TEST_CASE("nap rule: an empty nap ends napping and holds it back 1, 2, 4 ... 64 deliveries") {
  NapRule rule(kCap);
  TimePoint t = 1'000'000;
  REQUIRE(deliveries_to_start(rule, t) == 2);
  for (const unsigned hold : {1u, 2u, 4u, 8u, 16u, 32u, 64u, 64u}) {
    CAPTURE(hold);
    rule.nap_empty();
    CHECK_FALSE(rule.napping());
    CHECK(rule.hold() == hold);
    // The held deliveries pass, then the next one within the cap starts napping.
    CHECK(deliveries_to_start(rule, t) == static_cast<int>(hold) + 1);
  }
}

TEST_CASE("nap rule: each nap that gathered halves the hold the next empty nap sets") {
  NapRule rule(kCap);
  TimePoint t = 1'000'000;
  REQUIRE(deliveries_to_start(rule, t) == 2);
  for (int i = 0; i < 4; ++i) {  // holds 1, 2, 4, 8
    rule.nap_empty();
    REQUIRE(deliveries_to_start(rule, t) > 0);
  }
  // Two naps that gathered: 8 -> 4 -> 2; the next empty nap doubles that to 4, not 16.
  t += 50;
  rule.after_wait(5, t, false, true);
  t += 50;
  rule.after_wait(5, t, false, true);
  CHECK(rule.napping());
  rule.nap_empty();
  CHECK(rule.hold() == 4);
}
