// The impairment model (tools/netsim/model) on its own, in virtual time: each impairment's rate
// or distribution within statistical bounds for fixed seeds (bounds are 5 standard deviations or
// wider, so a correct model fails with probability far below 1e-6 per check), the bandwidth
// cap's throughput and queue (and its exact edge), the MTU edge, the held-datagram bound, the
// accounting identity, and the same seed giving the same schedule. These are the rules the
// simulation tests and volley-netsim share.
#include <doctest/doctest.h>

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <vector>

#include "support/seed.hpp"
#include "volley/netsim/link.hpp"

using namespace volley;
using namespace volley::netsim;

namespace {

// Sends `count` datagrams of `size` bytes, one every `spacing`, tagged 0..count-1, then takes
// everything out; returns deliveries in delivery order.
std::vector<InFlight> drive(Link& link, std::uint64_t count, TimePoint spacing = kMillisecond,
                            std::size_t size = 32) {
  std::vector<std::uint8_t> bytes(size, 0xab);
  std::vector<InFlight> out;
  TimePoint t = 0;
  for (std::uint64_t i = 0; i < count; ++i, t += spacing) {
    link.send(t, bytes, i);
    for (InFlight& f : link.take_due(t)) out.push_back(std::move(f));
  }
  for (InFlight& f : link.take_due(t + 3600 * kSecond)) out.push_back(std::move(f));
  return out;
}

Impairment clean() {
  Impairment imp;
  imp.latency = 0;
  return imp;
}

// |observed - expected| within k standard deviations of a binomial proportion over n trials.
void check_rate(double observed_count, double n, double p, double k = 5.0) {
  const double sigma = std::sqrt(p * (1 - p) / n);
  CHECK(std::fabs(observed_count / n - p) <= k * sigma);
}

std::uint64_t accounted(const LinkStats& s) {
  // Every send ends in exactly one outcome; a duplicate adds one delivery.
  return s.lost + s.burst_lost + s.oversize + s.rate_dropped + s.queue_full + (s.delivered - s.duplicated);
}

}  // namespace

TEST_CASE("netsim model: independent loss rate") {
  VOLLEY_SEEDED_RNG(rng, 1);
  constexpr std::uint64_t kN = 100'000;
  for (const double p : {0.01, 0.1, 0.3}) {
    CAPTURE(p);
    Impairment imp = clean();
    imp.loss = p;
    Link link(imp, rng());
    const auto got = drive(link, kN);
    check_rate(static_cast<double>(link.stats().lost), kN, p);
    CHECK(got.size() == kN - link.stats().lost);
    CHECK(link.stats().burst_lost == 0);
    CHECK(accounted(link.stats()) == kN);
  }
}

TEST_CASE("netsim model: Gilbert-Elliott bursts have the configured mean length and loss share") {
  VOLLEY_SEEDED_RNG(rng, 2);
  constexpr std::uint64_t kN = 400'000;
  Impairment imp = clean();
  imp.burst_enter = 0.01;
  imp.burst_exit = 0.25;  // mean burst 4
  Link link(imp, rng());
  const auto got = drive(link, kN);
  std::vector<bool> arrived(kN, false);
  for (const InFlight& f : got) arrived[f.tag] = true;
  std::vector<std::uint64_t> bursts;
  std::uint64_t run = 0;
  for (std::uint64_t i = 0; i < kN; ++i) {
    if (!arrived[i]) {
      ++run;
    } else if (run > 0) {
      bursts.push_back(run);
      run = 0;
    }
  }
  REQUIRE(bursts.size() > 1000);
  double mean = 0;
  for (const auto b : bursts) mean += static_cast<double>(b);
  mean /= static_cast<double>(bursts.size());
  // Geometric(0.25): mean 4, variance 12. Two bursts separated by no delivery merge in this
  // count, which lengthens the mean by (enter)·4 ≈ 1%, inside the bound.
  const double sigma = std::sqrt(12.0 / static_cast<double>(bursts.size()));
  MESSAGE(bursts.size(), " bursts, mean length ", mean, " (expected 4)");
  CHECK(std::fabs(mean - 4.0) <= 5 * sigma + 0.1);
  CHECK(*std::max_element(bursts.begin(), bursts.end()) > 12);  // a heavy tail, not fixed-size
  // Stationary share of the bad state: enter / (enter + exit).
  const double share = static_cast<double>(link.stats().burst_lost) / kN;
  const double expected = 0.01 / (0.01 + 0.25);
  MESSAGE("burst loss share ", share, " (expected ", expected, ")");
  CHECK(std::fabs(share - expected) <= 0.006);
  CHECK(link.stats().lost == 0);
  CHECK(accounted(link.stats()) == kN);
}

TEST_CASE("netsim model: a partial-loss bad state loses its share of burst datagrams") {
  VOLLEY_SEEDED_RNG(rng, 3);
  constexpr std::uint64_t kN = 200'000;
  Impairment imp = clean();
  imp.burst_enter = 0.05;
  imp.burst_exit = 0.2;
  imp.burst_loss = 0.5;
  Link link(imp, rng());
  drive(link, kN);
  // P(bad) = 0.05 / 0.25 = 0.2; half of those are lost: 10%. States are correlated, so the
  // bound is wider than a binomial one.
  const double share = static_cast<double>(link.stats().burst_lost) / kN;
  CHECK(std::fabs(share - 0.1) <= 0.01);
}

TEST_CASE("netsim model: latency plus uniform jitter") {
  VOLLEY_SEEDED_RNG(rng, 4);
  constexpr std::uint64_t kN = 50'000;
  Impairment imp = clean();
  imp.latency = 20 * kMillisecond;
  imp.jitter = 10 * kMillisecond;
  Link link(imp, rng());
  constexpr TimePoint kSpacing = 100;  // 0.1 ms
  const auto got = drive(link, kN, kSpacing);
  REQUIRE(got.size() == kN);
  double sum = 0;
  std::uint64_t below_quarter = 0;
  TimePoint lo = INT64_MAX;
  TimePoint hi = 0;
  for (const InFlight& f : got) {
    const TimePoint delay = f.deliver_at - static_cast<TimePoint>(f.tag) * kSpacing;
    lo = std::min(lo, delay);
    hi = std::max(hi, delay);
    sum += static_cast<double>(delay);
    if (delay < 22'500) ++below_quarter;
  }
  const double mean = sum / kN;
  MESSAGE("delay min ", lo, " us, max ", hi, " us, mean ", mean, " us");
  CHECK(lo >= 20'000);
  CHECK(hi <= 30'000);
  CHECK(lo < 20'100);  // the whole range is used
  CHECK(hi > 29'900);
  // Uniform on [20, 30] ms: mean 25 ms, sd 2.89 ms; the mean of 50,000 within 5 sd of it.
  CHECK(std::fabs(mean - 25'000) <= 5 * 2887 / std::sqrt(static_cast<double>(kN)));
  check_rate(static_cast<double>(below_quarter), kN, 0.25);
  // Jitter larger than the spacing reorders deliveries: delivery order is by time.
  CHECK(std::is_sorted(got.begin(), got.end(),
                       [](const InFlight& a, const InFlight& b) { return a.deliver_at < b.deliver_at; }));
}

TEST_CASE("netsim model: duplication and reordering rates") {
  VOLLEY_SEEDED_RNG(rng, 5);
  constexpr std::uint64_t kN = 100'000;
  Impairment imp = clean();
  imp.latency = 10 * kMillisecond;
  imp.duplicate = 0.05;
  imp.reorder = 0.1;
  imp.reorder_delay = 15 * kMillisecond;
  Link link(imp, rng());
  const auto got = drive(link, kN);  // 1 ms apart: a reordered one is passed by ~15
  const LinkStats& s = link.stats();
  check_rate(static_cast<double>(s.duplicated), kN, 0.05);
  // Each copy draws its own reorder: expected reordered = 0.1 · (N + duplicates).
  check_rate(static_cast<double>(s.reordered), static_cast<double>(kN + s.duplicated), 0.1);
  CHECK(got.size() == kN + s.duplicated);
  std::vector<int> copies(kN, 0);
  for (const InFlight& f : got) ++copies[f.tag];
  CHECK(std::count(copies.begin(), copies.end(), 2) == static_cast<long>(s.duplicated));
  CHECK(std::count(copies.begin(), copies.end(), 0) == 0);
  // Out of order as seen by a receiver: a delivery whose tag is below one already delivered.
  std::uint64_t highest = 0;
  std::uint64_t late = 0;
  for (const InFlight& f : got) {
    if (f.tag < highest) ++late;
    highest = std::max(highest, f.tag);
  }
  MESSAGE("duplicated ", s.duplicated, ", reordered ", s.reordered, ", arrived late ", late);
  CHECK(late >= s.reordered * 9 / 10);  // nearly every delayed copy is passed
  CHECK(accounted(s) == kN);
}

TEST_CASE("netsim model: the same seed gives the same schedule, another seed another") {
  Impairment imp;
  imp.loss = 0.05;
  imp.burst_enter = 0.02;
  imp.burst_exit = 0.3;
  imp.duplicate = 0.03;
  imp.reorder = 0.05;
  imp.latency = 30 * kMillisecond;
  imp.jitter = 8 * kMillisecond;
  auto schedule = [&](std::uint64_t seed) {
    Link link(imp, seed);
    std::vector<std::pair<TimePoint, std::uint64_t>> out;
    for (const InFlight& f : drive(link, 20'000)) out.emplace_back(f.deliver_at, f.tag);
    return out;
  };
  const auto a = schedule(42);
  const auto b = schedule(42);
  const auto c = schedule(43);
  CHECK(a.size() > 15'000);
  CHECK(a == b);
  CHECK(a != c);
}

TEST_CASE("netsim model: the bandwidth cap paces to the rate and drops what overflows its queue") {
  Impairment imp = clean();
  imp.rate_bytes_per_s = 100'000;   // 100 datagrams of 1000 bytes per second
  imp.rate_queue_bytes = 10'000;    // 10 datagrams: at most 100 ms of queueing
  Link link(imp, 7);
  constexpr std::uint64_t kN = 1000;  // offered at 200/s for 5 s: twice the rate
  const auto got = drive(link, kN, 5 * kMillisecond, 1000);
  const LinkStats& s = link.stats();
  MESSAGE("delivered ", got.size(), ", rate-dropped ", s.rate_dropped);
  // 5 s at 100/s, plus the queue's 10 at the start.
  CHECK(got.size() >= 495);
  CHECK(got.size() <= 515);
  CHECK(s.rate_dropped == kN - got.size());
  for (std::size_t i = 1; i < got.size(); ++i) {
    CHECK(got[i].deliver_at - got[i - 1].deliver_at >= 10 * kMillisecond);  // 1000 B at 100 kB/s
  }
  for (const InFlight& f : got) {
    const TimePoint queued = f.deliver_at - static_cast<TimePoint>(f.tag) * 5 * kMillisecond;
    CHECK(queued <= 110 * kMillisecond);  // the queue plus this datagram's own time on the wire
  }
  CHECK(accounted(s) == kN);

  // Under the rate nothing is dropped and nothing waits beyond its own serialisation.
  Link slow(imp, 7);
  const auto under = drive(slow, 200, 20 * kMillisecond, 1000);
  CHECK(under.size() == 200);
  CHECK(slow.stats().rate_dropped == 0);
}

TEST_CASE("netsim model: held datagrams are bounded (queue_full)") {
  Impairment imp = clean();
  imp.latency = 1 * kSecond;
  imp.max_in_flight = 100;
  Link link(imp, 9);
  std::vector<std::uint8_t> bytes(10);
  for (int i = 0; i < 250; ++i) link.send(0, bytes, static_cast<std::uint64_t>(i));
  CHECK(link.in_flight() == 100);
  CHECK(link.stats().queue_full == 150);
  const auto got = link.take_due(kSecond);
  CHECK(got.size() == 100);
  CHECK(got.back().tag == 99);  // the first 100 were kept
  CHECK(link.in_flight() == 0);
  link.send(kSecond, bytes, 1000);
  CHECK(link.in_flight() == 1);
  CHECK(accounted(link.stats()) == 250);  // one still held
}

TEST_CASE("netsim model: a datagram of exactly the MTU passes, one byte more is oversize") {
  Impairment imp = clean();
  imp.mtu = 1200;
  Link link(imp, 11);
  link.send(0, std::vector<std::uint8_t>(1200), 1);
  link.send(0, std::vector<std::uint8_t>(1201), 2);
  const auto got = link.take_due(0);
  REQUIRE(got.size() == 1);
  CHECK(got[0].tag == 1);
  CHECK(link.stats().oversize == 1);
}

TEST_CASE("netsim model: the rate queue takes datagrams up to exactly its size") {
  // 1000-byte datagrams at 1000 B/s into a 3000-byte queue, all sent at t = 0: the first three
  // fill it exactly (the first is already on the wire, which counts), the fourth overflows.
  Impairment imp = clean();
  imp.rate_bytes_per_s = 1000;
  imp.rate_queue_bytes = 3000;
  Link link(imp, 12);
  const std::vector<std::uint8_t> bytes(1000);
  for (std::uint64_t i = 0; i < 4; ++i) link.send(0, bytes, i);
  CHECK(link.stats().rate_dropped == 1);
  CHECK(link.in_flight() == 3);
}
