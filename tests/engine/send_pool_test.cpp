// SendPool: a burst grows it, trim() gives the surplus chunks back once kTrimWindow intervals
// have passed without needing them, never while an op is in use, and the pool keeps working;
// acquire stops at the pool's slot limit.
#include <doctest/doctest.h>

#include <set>
#include <vector>

#include "send_pool.hpp"

using volley::engine::SendOp;
using volley::engine::SendPool;

TEST_CASE("SendPool trim frees what the last interval did not need, only when nothing is in use") {
  SendPool pool(2048, 8192);
  std::vector<SendOp*> burst;
  for (int i = 0; i < 700; ++i) burst.push_back(pool.acquire(64));  // three chunks of 256
  REQUIRE(pool.capacity() == 768);
  CHECK(pool.trim() == 0);  // in use
  for (SendOp* op : burst) pool.release(op);
  CHECK(pool.in_use() == 0);
  // The interval that just ended needed 700 ops: nothing is surplus while it is in the window.
  CHECK(pool.trim() == 0);
  CHECK(pool.capacity() == 768);
  // Quiet intervals (at most 5 ops at once): the burst's interval leaves the window after
  // kTrimWindow - 1 more, and then one chunk is left.
  const auto quiet_interval = [&pool] {
    std::vector<SendOp*> few;
    for (int i = 0; i < 5; ++i) few.push_back(pool.acquire(64));
    for (SendOp* op : few) pool.release(op);
    return pool.trim();
  };
  for (std::size_t i = 1; i < SendPool::kTrimWindow; ++i) CHECK(quiet_interval() == 0);
  CHECK(pool.capacity() == 768);
  CHECK(quiet_interval() == 2);
  CHECK(pool.capacity() == 256);
  // The kept chunk's ops are all usable and distinct, large datagrams included; the pool grows
  // again past them.
  std::set<SendOp*> seen;
  std::vector<SendOp*> again;
  for (int i = 0; i < 300; ++i) {
    SendOp* op = pool.acquire(i % 2 ? 64 : 1500);
    REQUIRE(op != nullptr);
    op->data[0] = std::byte{1};
    op->data[(i % 2 ? 64 : 1500) - 1] = std::byte{2};
    CHECK(seen.insert(op).second);
    again.push_back(op);
  }
  CHECK(pool.capacity() == 512);
  for (SendOp* op : again) pool.release(op);
  for (std::size_t i = 0; i < SendPool::kTrimWindow; ++i) CHECK(pool.trim() == 0);
  CHECK(pool.trim() == 1);
  CHECK(pool.capacity() == 256);
}

TEST_CASE("SendPool: acquire stops at max_slots, and a release makes room again") {
  SendPool pool(2048, 256);
  std::vector<SendOp*> ops;
  for (int i = 0; i < 256; ++i) {
    SendOp* op = pool.acquire(64);
    REQUIRE(op != nullptr);
    ops.push_back(op);
  }
  CHECK(pool.acquire(64) == nullptr);
  CHECK(pool.capacity() == 256);
  pool.release(ops.back());
  CHECK(pool.acquire(64) == ops.back());
}

TEST_CASE("SendPool: trim leaves the pool alone while an op is in use, even with chunks to spare") {
  SendPool pool(2048, 8192);
  std::vector<SendOp*> burst;
  for (int i = 0; i < 600; ++i) burst.push_back(pool.acquire(64));
  for (SendOp* op : burst) pool.release(op);
  for (std::size_t i = 0; i < SendPool::kTrimWindow; ++i) CHECK(pool.trim() == 0);
  // The burst has left the window: two of the three chunks are surplus, but one op is held.
  SendOp* held = pool.acquire(64);
  CHECK(pool.trim() == 0);
  CHECK(pool.capacity() == 768);
  // Every op handed out while `held` is in use is another one.
  std::set<SendOp*> seen{held};
  std::vector<SendOp*> more;
  for (int i = 0; i < 700; ++i) {
    SendOp* op = pool.acquire(64);
    REQUIRE(op != nullptr);
    CHECK(seen.insert(op).second);
    more.push_back(op);
  }
  for (SendOp* op : more) pool.release(op);
  pool.release(held);
}
