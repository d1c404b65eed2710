// NapRule on a hand-driven clock: when napping starts (two deliveries within the cap), what
// ends it, the hold after empty naps (doubling to 64 deliveries, shrunk by naps that
// paid), and the bursts that make a nap pointless (measured by waits without one). The backends' loop tests show the same rule on real sockets.
#include <doctest/doctest.h>

#include "nap_rule.hpp"

using volley::engine::NapRule;
using volley::engine::TimePoint;
using Nap = NapRule::Nap;

namespace {

constexpr std::uint32_t kCap = 200;

// Deliveries of one datagram each, `gap` apart from `t` on, until napping starts; returns how
// many it took (0 if it had not started after `limit`).
int deliveries_to_start(NapRule& rule, TimePoint& t, TimePoint gap = kCap / 2, int limit = 1'000) {
  for (int n = 1; n <= limit; ++n) {
    t += gap;
    rule.after_wait(1, t, false, Nap::kNone);
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
  rule.after_wait(1, t, false, Nap::kNone);
  CHECK_FALSE(rule.napping());
  t += kCap + 1;
  rule.after_wait(3, t, false, Nap::kNone);
  CHECK_FALSE(rule.napping());
  t += kCap;  // exactly the cap: a nap of the cap would have gathered both
  rule.after_wait(1, t, false, Nap::kNone);
  CHECK(rule.napping());
}

TEST_CASE("nap rule: a wait that delivered nothing, or stopped at its round limit, ends the napping") {
  for (const bool round_limited : {false, true}) {
    CAPTURE(round_limited);
    NapRule rule(kCap);
    TimePoint t = 1'000'000;
    REQUIRE(deliveries_to_start(rule, t) == 2);
    rule.after_wait(round_limited ? 64 : 0, t + 10, round_limited, Nap::kGathered);
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

TEST_CASE("nap rule: a nap that paid shrinks the hold by the times it gathered a plain wait's take, at least half") {
  struct Case {
    unsigned empties;   // empty naps in a row first: hold 2^(empties-1)
    unsigned gathered;  // then one nap that gathered this (waits without one deliver 1)
    unsigned next;      // the hold the next empty nap sets
  };
  // 8 halved by a nap of 2 (4, doubled to 8), by one of 3 to 2 -> 4, by one of 8 to 1 -> 2;
  // 64 by one of 16, 64 -> 4 -> 8; by one of 100 (more than the longest hold), to 0 -> 1.
  for (const Case c : {Case{4, 2, 8}, Case{4, 3, 4}, Case{4, 8, 2}, Case{7, 16, 8}, Case{7, 100, 1}}) {
    CAPTURE(c.empties);
    CAPTURE(c.gathered);
    NapRule rule(kCap);
    TimePoint t = 1'000'000;
    REQUIRE(deliveries_to_start(rule, t) == 2);
    REQUIRE(rule.plain() == doctest::Approx(1));
    for (unsigned i = 0; i < c.empties; ++i) {
      rule.nap_empty();
      REQUIRE(deliveries_to_start(rule, t) > 0);
    }
    t += 50;
    CHECK_FALSE(rule.after_wait(c.gathered, t, false, Nap::kGathered));
    CHECK(rule.napping());
    rule.nap_empty();
    CHECK(rule.hold() == c.next);
  }
}

TEST_CASE("nap rule: after_wait says whether the nap counted as empty") {
  NapRule rule(kCap);
  TimePoint t = 1'000'000;
  REQUIRE(deliveries_to_start(rule, t) == 2);  // waits without a nap deliver 1
  t += 50;
  CHECK_FALSE(rule.after_wait(2, t, false, Nap::kGathered));  // twice as much: paid
  CHECK(rule.napping());
  t += 50;
  CHECK(rule.after_wait(1, t, false, Nap::kGathered));  // no more than a plain wait: empty
  CHECK_FALSE(rule.napping());
  CHECK(rule.hold() == 1);
  t += 50;
  CHECK_FALSE(rule.after_wait(1, t, false, Nap::kNone));  // no nap: the hold passes
  CHECK(rule.hold() == 0);
  t += 50;
  CHECK_FALSE(rule.after_wait(1, t, false, Nap::kNone));
  REQUIRE(rule.napping());
  // Found nothing, and the wait after it delivered: empty, the hold doubled and one passed.
  t += 50;
  CHECK(rule.after_wait(3, t, false, Nap::kEmpty));
  CHECK_FALSE(rule.napping());
  CHECK(rule.hold() == 1);
  // Found nothing and nothing after it either (the deadline came first).
  NapRule quiet(kCap);
  TimePoint q = 1'000'000;
  REQUIRE(deliveries_to_start(quiet, q) == 2);
  CHECK(quiet.after_wait(0, q, false, Nap::kEmpty));
  CHECK(quiet.hold() == 1);
  CHECK_FALSE(NapRule(0).after_wait(0, q, false, Nap::kEmpty));  // no cap: no naps to judge
}

TEST_CASE("nap rule: a nap that gathers less than 1.5 times what a wait without one delivers counts as empty") {
  for (const unsigned gathered : {14u, 15u}) {
    CAPTURE(gathered);
    NapRule rule(kCap);
    TimePoint t = 1'000'000;
    // Waits without a nap deliver bursts of 10, less than the cap apart: napping starts.
    t += kCap / 2;
    rule.after_wait(10, t, false, Nap::kNone);
    t += kCap / 2;
    rule.after_wait(10, t, false, Nap::kNone);
    REQUIRE(rule.napping());
    CHECK(rule.plain() == doctest::Approx(10));
    t += kCap / 2;
    rule.after_wait(gathered, t, false, Nap::kGathered);
    if (gathered < 15) {
      CHECK_FALSE(rule.napping());
      CHECK(rule.hold() == 1);  // as after an empty nap
    } else {
      CHECK(rule.napping());
      CHECK(rule.hold() == 0);
    }
  }
}

TEST_CASE("nap rule: while napping every kProbeEvery-th wait takes no nap, and what it delivers judges the naps") {
  for (const unsigned probe : {2u, 12u}) {
    CAPTURE(probe);
    NapRule rule(kCap);
    TimePoint t = 1'000'000;
    REQUIRE(deliveries_to_start(rule, t) == 2);
    int naps_in_a_row = 0;
    int probes = 0;
    for (int i = 0; i < 2'000 && rule.napping(); ++i) {
      // Naps gather 15 (1.5 times 10); the waits that take none deliver `probe`.
      for (naps_in_a_row = 0; rule.napping() && naps_in_a_row <= static_cast<int>(NapRule::kProbeEvery); ++naps_in_a_row) {
        t += kCap / 2;
        rule.after_wait(15, t, false, Nap::kGathered);
      }
      if (rule.hold() > 0) break;  // a nap did not pay
      CHECK(naps_in_a_row == static_cast<int>(NapRule::kProbeEvery));
      ++probes;
      t += kCap / 2;
      rule.after_wait(probe, t, false, Nap::kNone);
    }
    if (probe < 10) {
      CHECK(rule.napping());  // napping goes on, one wait in kProbeEvery + 1 without a nap
      CHECK(probes > 50);
    } else {
      // The probes lift the average past 10, and the next nap does not pay.
      CHECK_FALSE(rule.napping());
      CHECK(rule.hold() == 1);
      CHECK(probes <= 20);  // from 1 towards 12 by an eighth of the gap each time: 14
      CHECK(rule.plain() > 10);
    }
  }
}

TEST_CASE("nap rule: only waits within the cap of the delivery before count towards the average") {
  NapRule rule(kCap);
  TimePoint t = 1'000'000;
  for (int i = 0; i < 5; ++i) {  // big bursts, far apart: nothing a nap would gather
    t += 2 * kCap;
    rule.after_wait(30, t, false, Nap::kNone);
  }
  REQUIRE(deliveries_to_start(rule, t) == 1);
  CHECK(rule.plain() == doctest::Approx(1));
  t += kCap / 2;
  rule.after_wait(5, t, false, Nap::kGathered);  // five times a flowing wait's one: it pays
  CHECK(rule.napping());
  CHECK(rule.hold() == 0);
}

TEST_CASE("nap rule: a nap lasts what is left of the cap since the latest delivery, within the caller's limit") {
  NapRule rule(kCap);
  TimePoint t = 1'000'000;
  REQUIRE(deliveries_to_start(rule, t) == 2);
  // The pass after the delivery at t took 30 us: a datagram that came in meanwhile has waited
  // that long already, so the nap takes the rest of the cap, not the whole cap again.
  CHECK(rule.nap_us(t + 30, 1'000'000) == kCap - 30);
  CHECK(rule.nap_us(t, 1'000'000) == kCap);
  CHECK(rule.nap_us(t + 30, 50) == 50);  // never past the caller's next deadline
  CHECK(rule.nap_us(t + kCap, 1'000'000) == 0);  // the cap has passed: no nap
  CHECK(rule.nap_us(t + 5 * kCap, 1'000'000) == 0);
  // The next delivery sets the reference again.
  t += 70;
  rule.after_wait(3, t, false, Nap::kGathered);
  REQUIRE(rule.napping());
  CHECK(rule.nap_us(t + 10, 1'000'000) == kCap - 10);
}

TEST_CASE("nap rule: naps are shortened by how much later than asked the naps that paid returned") {
  NapRule rule(kCap);
  TimePoint t = 1'000'000;
  REQUIRE(deliveries_to_start(rule, t) == 2);  // waits without a nap deliver 1
  CHECK(rule.nap_us(t, 1'000'000) == kCap);
  // Naps that paid (5 datagrams) and returned 80 µs after their asked length: the average
  // overrun climbs towards 80 by an eighth of the gap each time, and the naps shorten with it.
  std::int64_t previous = kCap;
  for (int i = 0; i < 40; ++i) {
    if (!rule.napping()) {  // the probe, one wait in kProbeEvery: no nap
      t += 50;
      CHECK_FALSE(rule.after_wait(1, t, false, Nap::kNone));
    }
    const std::int64_t asked = rule.nap_us(t, 1'000'000);
    CHECK(asked <= previous);
    previous = asked;
    rule.nap_took(asked, asked + 80);
    t += asked + 80;
    CHECK_FALSE(rule.after_wait(5, t, false, Nap::kGathered));
  }
  CHECK(rule.overrun() >= 75);
  CHECK(rule.overrun() <= 80);
  CHECK(rule.nap_us(t, 1'000'000) == kCap - rule.overrun());
  const std::int64_t settled = rule.overrun();
  // A nap that found nothing slept on far past its length; one that gathered too little to pay
  // may have too: neither moves the average.
  rule.nap_took(kCap, 5'000);
  CHECK(rule.after_wait(1, t + 5'000, false, Nap::kEmpty));
  CHECK(rule.overrun() == settled);
  t += 5'000;
  REQUIRE(deliveries_to_start(rule, t) > 0);
  rule.nap_took(kCap, 5'000);
  CHECK(rule.after_wait(1, t + 50, false, Nap::kGathered));  // 1 against a plain wait's 1
  CHECK(rule.overrun() == settled);
  // An overrun is counted at most at the cap, and a report applies to its own wait only.
  t += 50;
  REQUIRE(deliveries_to_start(rule, t) > 0);
  rule.nap_took(kCap, 100'000);
  CHECK_FALSE(rule.after_wait(5, t + 50, false, Nap::kGathered));
  CHECK(rule.overrun() == settled + (kCap - settled) / 8);
  const std::int64_t after = rule.overrun();
  t += 100;
  CHECK_FALSE(rule.after_wait(5, t, false, Nap::kGathered));  // no report: no change
  CHECK(rule.overrun() == after);
}
