// TimerWheel on a hand-driven clock: ordering (deadline, then scheduling order), cancel,
// reschedule (also from inside callbacks), long jumps over several wheel rounds, and the wake
// hint the loop uses to size its waits.
#include <doctest/doctest.h>

#include <algorithm>
#include <iterator>
#include <map>
#include <optional>
#include <random>
#include <vector>

#include "support/seed.hpp"
#include "timer_wheel.hpp"

using volley::engine::TimePoint;
using volley::engine::TimerId;
using volley::engine::TimerWheel;

namespace {
constexpr TimePoint kStart = 1'000'000'000;
}

TEST_CASE("timer wheel: fires in deadline order, equal deadlines in scheduling order") {
  TimerWheel wheel(kStart);
  std::vector<int> fired;
  const TimePoint deadlines[] = {500, 100, 100, 2'000'000, 100, 7, 5'000'000, 500, 0};
  for (int i = 0; i < 9; ++i) {
    wheel.schedule(kStart + deadlines[i], [&fired, i] { fired.push_back(i); });
  }
  CHECK(wheel.size() == 9);
  wheel.advance(kStart + 99);
  CHECK(fired == std::vector<int>{8, 5});
  wheel.advance(kStart + 10'000'000);
  CHECK(fired == std::vector<int>{8, 5, 1, 2, 4, 0, 7, 3, 6});
  CHECK(wheel.size() == 0);
}

TEST_CASE("timer wheel: never early, and matches a sorted reference for random timers") {
  VOLLEY_SEEDED_RNG(rng, 1);
  TimerWheel wheel(kStart);
  struct Expected {
    TimePoint deadline;
    int order;
  };
  std::vector<Expected> expected;
  std::vector<int> fired;
  TimePoint clock = kStart;
  bool early = false;
  for (int i = 0; i < 20'000; ++i) {
    // Spread over ~3 wheel rounds, with many collisions on the same microsecond.
    const TimePoint deadline = kStart + static_cast<TimePoint>(rng() % 12'000'000) / 64 * 64;
    expected.push_back({deadline, i});
    wheel.schedule(deadline, [&, i, deadline] {
      if (clock < deadline) early = true;
      fired.push_back(i);
    });
  }
  while (wheel.size() > 0) {
    clock += static_cast<TimePoint>(rng() % 50'000);
    wheel.advance(clock);
  }
  std::stable_sort(expected.begin(), expected.end(),
                   [](const Expected& a, const Expected& b) { return a.deadline < b.deadline; });
  REQUIRE(fired.size() == expected.size());
  CHECK_FALSE(early);
  bool same = true;
  for (std::size_t i = 0; i < fired.size(); ++i) same = same && fired[i] == expected[i].order;
  CHECK(same);
}

TEST_CASE("timer wheel: cancel and reschedule") {
  TimerWheel wheel(kStart);
  std::vector<int> fired;
  const TimerId a = wheel.schedule(kStart + 1000, [&] { fired.push_back(1); });
  const TimerId b = wheel.schedule(kStart + 2000, [&] { fired.push_back(2); });
  const TimerId c = wheel.schedule(kStart + 3000, [&] { fired.push_back(3); });
  CHECK(wheel.cancel(b));
  CHECK_FALSE(wheel.cancel(b));                   // stale handle
  CHECK(wheel.reschedule(a, kStart + 10'000));    // later
  CHECK(wheel.reschedule(c, kStart + 500));       // earlier
  wheel.advance(kStart + 5000);
  CHECK(fired == std::vector<int>{3});
  CHECK_FALSE(wheel.cancel(c));                   // already fired
  CHECK_FALSE(wheel.reschedule(c, kStart + 6000));
  wheel.advance(kStart + 10'000);
  CHECK(fired == std::vector<int>{3, 1});
  CHECK(wheel.size() == 0);
  // A freed slot is reused with a new generation: old handles stay dead.
  const TimerId d = wheel.schedule(kStart + 20'000, [] {});
  CHECK((d.index == a.index || d.index == b.index || d.index == c.index));
  CHECK_FALSE(wheel.cancel(a));
  CHECK(wheel.cancel(d));
}

TEST_CASE("timer wheel: rescheduled timers go behind timers already at that deadline") {
  TimerWheel wheel(kStart);
  std::vector<int> fired;
  const TimerId first = wheel.schedule(kStart + 100, [&] { fired.push_back(1); });
  wheel.schedule(kStart + 100, [&] { fired.push_back(2); });
  wheel.reschedule(first, kStart + 100);
  wheel.advance(kStart + 100);
  CHECK(fired == std::vector<int>{2, 1});
}

TEST_CASE("timer wheel: callbacks may schedule, cancel and reschedule") {
  TimerWheel wheel(kStart);
  std::vector<int> fired;
  TimerId periodic;
  int ticks = 0;
  periodic = wheel.schedule(kStart + 1000, [&] {
    fired.push_back(100 + ticks);
    if (++ticks < 3) wheel.reschedule(periodic, kStart + 1000 * (ticks + 1));
  });
  TimerId victim = wheel.schedule(kStart + 1000, [&] { fired.push_back(-1); });
  wheel.schedule(kStart + 1000, [&] { fired.push_back(-2); });  // fires: scheduled before cancel
  wheel.schedule(kStart + 999, [&] {
    fired.push_back(1);
    wheel.cancel(victim);  // due in the same advance, must not fire
    wheel.schedule(kStart, [&] { fired.push_back(2); });  // overdue: fires on the next advance
  });
  wheel.advance(kStart + 1000);
  CHECK(fired == std::vector<int>{1, 100, -2});
  wheel.advance(kStart + 1000);
  CHECK(fired == std::vector<int>{1, 100, -2, 2});
  wheel.advance(kStart + 2000);
  wheel.advance(kStart + 3000);
  wheel.advance(kStart + 4000);
  CHECK(fired == std::vector<int>{1, 100, -2, 2, 101, 102});
  CHECK(wheel.size() == 0);
}

TEST_CASE("timer wheel: next_wake is never later than the earliest deadline") {
  TimerWheel wheel(kStart);
  CHECK_FALSE(wheel.next_wake().has_value());
  const TimerId far = wheel.schedule(kStart + 60'000'000, [] {});  // ~14 rounds away
  const auto hint = wheel.next_wake();
  REQUIRE(hint.has_value());
  CHECK(*hint <= kStart + 60'000'000);
  CHECK(*hint > kStart);
  wheel.schedule(kStart + 1234, [] {});
  CHECK(wheel.next_wake() == kStart + 1234);
  wheel.advance(kStart + 1234);
  CHECK(*wheel.next_wake() <= kStart + 60'000'000);
  // Jump straight past many rounds: the far timer fires exactly once.
  int count = 0;
  wheel.reschedule(far, kStart + 70'000'000);
  wheel.schedule(kStart + 69'999'999, [&] { ++count; });
  wheel.advance(kStart + 100'000'000);
  CHECK(count == 1);
  CHECK(wheel.size() == 0);
}

TEST_CASE("timer wheel: next_wake follows the earliest timer through reschedule and cancel") {
  TimerWheel wheel(kStart);
  const TimerId a = wheel.schedule(kStart + 5'000, [] {});
  const TimerId b = wheel.schedule(kStart + 9'000, [] {});
  CHECK(wheel.next_wake() == kStart + 5'000);
  // A pass that fires nothing keeps the wake time.
  wheel.advance(kStart + 1'000);
  CHECK(wheel.next_wake() == kStart + 5'000);
  // The earliest moves later: the wake time follows it (no early, empty wake-up).
  wheel.reschedule(a, kStart + 20'000);
  CHECK(wheel.next_wake() == kStart + 9'000);
  // A timer that is not the earliest moves: unchanged. An earlier one arrives: it wins.
  wheel.reschedule(a, kStart + 30'000);
  CHECK(wheel.next_wake() == kStart + 9'000);
  const TimerId c = wheel.schedule(kStart + 2'000, [] {});
  CHECK(wheel.next_wake() == kStart + 2'000);
  // The earliest is cancelled: the next one, and so on.
  wheel.cancel(c);
  CHECK(wheel.next_wake() == kStart + 9'000);
  wheel.cancel(b);
  CHECK(wheel.next_wake() == kStart + 30'000);
  int fired = 0;
  wheel.reschedule(a, kStart + 30'000);
  wheel.schedule(kStart + 40'000, [&] { ++fired; });
  wheel.advance(kStart + 30'000);
  CHECK(wheel.next_wake() == kStart + 40'000);
  wheel.advance(kStart + 40'000);
  CHECK(fired == 1);
  CHECK_FALSE(wheel.next_wake().has_value());
}

TEST_CASE("timer wheel: next_wake finds the earliest of a few timers anywhere on the wheel") {
  // Few timers spread over a whole round, scheduled, cancelled and moved, with the clock crossing the wheel's end several times:
  // the scan for the next occupied slot jumps over empty stretches, wrap-around included.
  VOLLEY_SEEDED_RNG(rng, 2);
  TimerWheel wheel(kStart);
  std::map<std::uint64_t, std::pair<TimerId, TimePoint>> live;  // by a test-side key
  std::uint64_t next_key = 0;
  TimePoint clock = kStart;
  int mismatches = 0;
  for (int step = 0; step < 20'000; ++step) {
    const auto roll = rng() % 8;
    if (roll < 3 && live.size() < 6) {
      // Within 4 s, under one round (~4.2 s): next_wake must name the exact earliest deadline.
      const TimePoint deadline = clock + static_cast<TimePoint>(rng() % 4'000'000);
      const std::uint64_t key = next_key++;
      live[key] = {wheel.schedule(deadline, [&live, key] { live.erase(key); }), deadline};
    } else if (roll < 4 && !live.empty()) {
      auto it = std::next(live.begin(), static_cast<long>(rng() % live.size()));
      wheel.cancel(it->second.first);
      live.erase(it);
    } else if (roll < 5 && !live.empty()) {
      // Moved earlier or later, the earliest timer among them as often as any.
      auto it = std::next(live.begin(), static_cast<long>(rng() % live.size()));
      const TimePoint deadline = clock + static_cast<TimePoint>(rng() % 4'000'000);
      wheel.reschedule(it->second.first, deadline);
      it->second.second = deadline;
    } else {
      clock += static_cast<TimePoint>(rng() % 400'000);
      wheel.advance(clock);
    }
    std::optional<TimePoint> earliest;
    for (const auto& [key, timer] : live) {
      if (!earliest || timer.second < *earliest) earliest = timer.second;
    }
    if (wheel.next_wake() != earliest) ++mismatches;
  }
  CHECK(clock - kStart > 4 * 4'200'000);  // the wheel went round several times
  CHECK(mismatches == 0);
}

TEST_CASE("timer wheel: a jump of several rounds fires a timer in every slot, in order") {
  // One timer per tick of a whole round, so every slot holds one: a single advance far past
  // them must visit each slot once and fire all of them, in deadline order.
  TimerWheel wheel(kStart);
  const TimePoint tick = TimePoint{1} << TimerWheel::kTickShift;
  const TimePoint first = (kStart / tick + 1) * tick;
  std::vector<std::uint32_t> fired;
  for (std::uint32_t i = 0; i < TimerWheel::kSlots; ++i) {
    wheel.schedule(first + static_cast<TimePoint>(i) * tick, [&fired, i] { fired.push_back(i); });
  }
  wheel.advance(first + 3 * static_cast<TimePoint>(TimerWheel::kSlots) * tick);
  REQUIRE(fired.size() == TimerWheel::kSlots);
  CHECK(std::is_sorted(fired.begin(), fired.end()));
  CHECK(wheel.size() == 0);
}

TEST_CASE("timer wheel: a callback that cancels its own timer and schedules another keeps the new one's callback") {
  // The new timer reuses the freed node: it must fire its own callback, not the old one's.
  TimerWheel wheel(kStart);
  std::vector<int> fired;
  TimerId self;
  self = wheel.schedule(kStart + 1000, [&] {
    fired.push_back(1);
    CHECK(wheel.cancel(self));
    const TimerId next = wheel.schedule(kStart + 2000, [&] { fired.push_back(2); });
    CHECK(next.index == self.index);
  });
  wheel.advance(kStart + 1000);
  wheel.advance(kStart + 2000);
  CHECK(fired == std::vector<int>{1, 2});
  CHECK(wheel.size() == 0);
}
