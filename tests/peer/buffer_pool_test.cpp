// The per-thread payload pools (protocol/src/buffer_pool.hpp) hold at most 1 MiB of payload
// capacity in all, counting the buffers that kept shared-payload blocks hold as well as the
// plain kept buffers; a buffer above 64 KiB is never kept. Each case runs on a thread of its
// own, whose pools start empty.
#include <doctest/doctest.h>

#include <algorithm>
#include <cstdint>
#include <thread>
#include <vector>

#include "buffer_pool.hpp"

using namespace volley::protocol;
using namespace volley::protocol::detail;

namespace {

constexpr std::size_t kKiB = 1024;
constexpr std::size_t kLargest = 64 * kKiB;  // the largest buffer a pool keeps
constexpr std::size_t kBudget = 1024 * kKiB;  // all kept capacity of one thread's pools

template <class Fn>
void on_fresh_thread(Fn fn) {
  std::thread t(fn);
  t.join();
}

Buffer with_capacity(std::size_t capacity) {
  Buffer b;
  b.reserve(capacity);
  return b;
}

// Takes `n` buffers and counts those that came from the pool with at least `capacity`.
std::size_t take_counting(std::size_t n, std::size_t capacity) {
  const std::uint8_t byte = 1;
  std::size_t kept = 0;
  std::vector<Buffer> taken;
  for (std::size_t i = 0; i < n; ++i) {
    taken.push_back(take_buffer(Bytes(&byte, 1)));
    if (taken.back().capacity() >= capacity) ++kept;
  }
  return kept;
}

}  // namespace

TEST_CASE("buffer pool: kept buffers stop at 1 MiB of capacity, and none above 64 KiB is kept") {
  on_fresh_thread([] {
    for (int i = 0; i < 40; ++i) give_buffer(with_capacity(kLargest));
    CHECK(take_counting(40, kLargest) == kBudget / kLargest);

    give_buffer(with_capacity(kLargest + 1));
    CHECK(take_counting(1, kLargest + 1) == 0);
  });
}

TEST_CASE("buffer pool: buffers that pooled shared-payload blocks keep count against the same 1 MiB") {
  on_fresh_thread([] {
    const std::vector<std::uint8_t> large(kLargest, 7);
    {
      std::vector<SharedPayload> queued;
      for (int i = 0; i < 40; ++i) queued.push_back(SharedPayload::copy_of(large));
    }  // all released: their blocks are kept, with their buffers while the budget lasts
    // The blocks' buffers fill the budget, so a plain buffer given back now is not kept.
    give_buffer(with_capacity(kLargest));
    CHECK(take_counting(1, kLargest) == 0);
  });
}

TEST_CASE("buffer pool: a reused shared-payload block holds exactly the new packet's bytes") {
  on_fresh_thread([] {
    // Long, then short, then longer than any before, then empty: each time the same kept block
    // comes back, and its view must show the new bytes only, none of the previous packet's.
    const std::vector<std::size_t> sizes = {300, 5, 2000, 0, 64};
    for (std::size_t round = 0; round < sizes.size(); ++round) {
      std::vector<std::uint8_t> bytes(sizes[round]);
      for (std::size_t i = 0; i < bytes.size(); ++i) bytes[i] = static_cast<std::uint8_t>(round * 31 + i);
      const SharedPayload payload = SharedPayload::copy_of(bytes);
      const Bytes view = payload.bytes();
      CHECK(view.size() == bytes.size());
      CHECK(std::equal(view.begin(), view.end(), bytes.begin(), bytes.end()));
    }
  });
}

TEST_CASE("buffer pool: a shared-payload block over 64 KiB is kept without its buffer") {
  on_fresh_thread([] {
    {
      const std::vector<std::uint8_t> huge(kLargest + 1, 7);
      const SharedPayload payload = SharedPayload::copy_of(huge);
    }
    // Its buffer was freed, not counted: the whole budget is left for plain buffers.
    for (std::size_t i = 0; i < kBudget / kLargest; ++i) give_buffer(with_capacity(kLargest));
    CHECK(take_counting(kBudget / kLargest, kLargest) == kBudget / kLargest);
  });
}
