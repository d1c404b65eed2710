// The demo game's event backlog (server/app/demo/event_backlog.hpp) against a fake sender window
// of a few places: events that do not fit wait in order and are raised as the window frees, a
// later event never overtakes a held one, and only a full backlog (or an over-long payload)
// loses an event, counted.
#include <doctest/doctest.h>

#include <cstdint>
#include <span>
#include <vector>

#include "event_backlog.hpp"

namespace {

using volley::demo::EventBacklog;

// The sender's pending window: accepts while it has room; acknowledge() frees it.
struct FakeWindow {
  std::size_t room;
  std::vector<std::uint8_t> accepted;  // the first payload byte of each accepted event, in order
  bool operator()(std::uint16_t, std::span<const std::uint8_t> payload) {
    if (room == 0) return false;
    --room;
    accepted.push_back(payload[0]);
    return true;
  }
};

std::vector<std::uint8_t> payload(std::uint8_t tag) { return {tag, 0xAB, 0xCD}; }

}  // namespace

TEST_CASE("demo event backlog: a full window defers events in order, a drain raises them") {
  FakeWindow window{2, {}};
  EventBacklog backlog(8);
  for (std::uint8_t i = 1; i <= 5; ++i) CHECK(backlog.raise(2, payload(i), window));
  CHECK(window.accepted == std::vector<std::uint8_t>{1, 2});
  CHECK(backlog.size() == 3);

  // Room for one more: the next new event must not overtake the three held ones.
  window.room = 1;
  CHECK(backlog.raise(2, payload(6), window));
  CHECK(window.accepted == std::vector<std::uint8_t>{1, 2});
  CHECK(backlog.size() == 4);

  window.room = 3;
  backlog.drain(window);
  CHECK(window.accepted == std::vector<std::uint8_t>{1, 2, 3, 4, 5});
  CHECK(backlog.size() == 1);
  window.room = 10;
  backlog.drain(window);
  CHECK(window.accepted == std::vector<std::uint8_t>{1, 2, 3, 4, 5, 6});
  CHECK(backlog.size() == 0);

  // Empty again: a new event goes straight to the window.
  CHECK(backlog.raise(2, payload(7), window));
  CHECK(window.accepted.back() == 7);
  const auto& c = backlog.counters();
  CHECK(c.raised == 7);
  CHECK(c.deferred == 4);
  CHECK(c.refused == 0);
  CHECK(c.peak == 4);
}

TEST_CASE("demo event backlog: past its capacity an event is refused and counted") {
  FakeWindow window{0, {}};
  EventBacklog backlog(3);
  for (std::uint8_t i = 1; i <= 3; ++i) CHECK(backlog.raise(1, payload(i), window));
  CHECK_FALSE(backlog.raise(1, payload(4), window));
  CHECK_FALSE(backlog.raise(1, payload(5), window));
  CHECK(backlog.size() == 3);
  window.room = 100;
  backlog.drain(window);
  CHECK(window.accepted == std::vector<std::uint8_t>{1, 2, 3});
  CHECK(backlog.counters().refused == 2);
  CHECK(backlog.counters().raised == 3);
  CHECK(backlog.counters().peak == 3);
}

TEST_CASE("demo event backlog: an over-long payload is refused, never held to block the rest") {
  FakeWindow window{0, {}};
  EventBacklog backlog(8);
  std::vector<std::uint8_t> huge(volley::snapshot::kMaxEventPayload + 1, 9);
  CHECK_FALSE(backlog.raise(1, huge, window));
  CHECK(backlog.size() == 0);
  CHECK(backlog.raise(1, payload(1), window));
  window.room = 1;
  backlog.drain(window);
  CHECK(window.accepted == std::vector<std::uint8_t>{1});
  CHECK(backlog.counters().refused == 1);
}
