// Counters on their own: every counter adds and reads back, drops() sums exactly the drop
// reasons, and copies are deep (the drop block is allocated lazily and must not be shared).
#include <doctest/doctest.h>

#include <cstdint>

#include "volley/protocol/counters.hpp"

using volley::protocol::Counter;
using volley::protocol::counter_name;
using volley::protocol::Counters;
using volley::protocol::kCounterCount;

TEST_CASE("counters: each counter reads back what was added to it, and only that") {
  Counters c;
  for (std::size_t i = 0; i < kCounterCount; ++i) c.add(static_cast<Counter>(i), 1000 + i);
  std::uint64_t drops = 0;
  for (std::size_t i = 0; i < kCounterCount; ++i) {
    const auto counter = static_cast<Counter>(i);
    CHECK(c[counter] == 1000 + i);
    if (counter_name(counter).starts_with("drop_")) drops += 1000 + i;
  }
  CHECK(c.drops() == drops);
  c.clear();
  for (std::size_t i = 0; i < kCounterCount; ++i) CHECK(c[static_cast<Counter>(i)] == 0);
  CHECK(c.drops() == 0);
}

TEST_CASE("counters: copies are independent, with and without drop counts") {
  Counters a;
  a.add(Counter::kDatagramsIn, 5);
  Counters b = a;  // no drop block yet
  b.add(Counter::kDropDuplicate, 2);
  CHECK(a[Counter::kDropDuplicate] == 0);
  CHECK(b[Counter::kDropDuplicate] == 2);
  Counters c = b;  // with a drop block
  c.add(Counter::kDropDuplicate, 1);
  CHECK(b[Counter::kDropDuplicate] == 2);
  CHECK(c[Counter::kDropDuplicate] == 3);
  a = c;
  CHECK(a[Counter::kDropDuplicate] == 3);
  CHECK(a[Counter::kDatagramsIn] == 5);
  c = Counters{};
  CHECK(a[Counter::kDropDuplicate] == 3);
  CHECK(c[Counter::kDropDuplicate] == 0);
  a = c;  // back to no drop block
  CHECK(a.drops() == 0);
  CHECK(a[Counter::kThrottleDropped] == 0);
}
