// Fifo, the queue behind a peer's pending acks and events, on its own: order, erase_if, and
// that drained or compacted storage does not pin a burst's high-water mark.
#include <doctest/doctest.h>

#include <vector>

#include "fifo.hpp"

using volley::protocol::detail::Fifo;

namespace {

std::vector<int> contents(const Fifo<int>& q) { return std::vector<int>(q.begin(), q.end()); }

}  // namespace

TEST_CASE("fifo: first in, first out, across compaction") {
  Fifo<int> q;
  CHECK(q.empty());
  for (int i = 0; i < 100; ++i) q.push_back(i);
  for (int i = 0; i < 60; ++i) {
    CHECK(q.front() == i);
    q.pop_front();
  }
  CHECK(q.size() == 40);
  q.push_back(100);
  std::vector<int> expected;
  for (int i = 60; i <= 100; ++i) expected.push_back(i);
  CHECK(contents(q) == expected);
}

TEST_CASE("fifo: erase_if keeps the order of the rest and empties cleanly") {
  Fifo<int> q;
  for (int i = 0; i < 10; ++i) q.push_back(i);
  q.pop_front();
  q.erase_if([](int v) { return v % 3 == 0; });
  CHECK(contents(q) == std::vector<int>{1, 2, 4, 5, 7, 8});
  q.erase_if([](int) { return true; });
  CHECK(q.empty());
  q.push_back(42);
  CHECK(q.front() == 42);
  CHECK(q.size() == 1);
}

TEST_CASE("fifo: popped elements are released at once") {
  Fifo<std::vector<int>> q;
  q.push_back(std::vector<int>(1000, 1));
  q.push_back(std::vector<int>(1000, 2));
  const std::vector<int>* first = &q.front();
  q.pop_front();
  // The slot stays in the buffer until compaction, but its payload is gone.
  CHECK(first->empty());
  CHECK(first->capacity() == 0);
  CHECK(q.front().front() == 2);
}
