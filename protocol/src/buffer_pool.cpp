// Per-thread pools of payload buffers and shared-payload blocks; see buffer_pool.hpp.
#include "buffer_pool.hpp"

#include <algorithm>
#include <cstring>
#include <memory>

#include "volley/protocol/peer.hpp"

namespace volley::protocol::detail {

namespace {

// Kept buffers: at most this many, each at most kMaxKeptCapacity bytes (a reassembled packet of
// a few datagrams fits), all together at most kMaxKeptBytes: a pool never holds more than 1 MiB
// of payload room, whatever burst went through it.
constexpr std::size_t kMaxKeptBuffers = 512;
constexpr std::size_t kMaxKeptCapacity = 64 * 1024;
constexpr std::size_t kMaxKeptBytes = 1024 * 1024;
constexpr std::size_t kMaxKeptBlocks = 1024;

struct Pools {
  // Reserved up front, so giving back never allocates (and never throws).
  Pools() {
    buffers.reserve(kMaxKeptBuffers);
    blocks.reserve(kMaxKeptBlocks);
  }
  ~Pools();
  static inline thread_local bool gone = false;  // trivially destructible: readable to the end
  // The pools of this thread once made: a plain pointer, so the per-packet access is one TLS
  // load, not the guard check and wrapper call of a thread_local with a constructor.
  static inline thread_local Pools* current = nullptr;
  std::vector<Buffer> buffers;
  std::size_t buffer_bytes = 0;  // capacity of the kept buffers
  std::vector<std::unique_ptr<SharedPayload::Block>> blocks;
};

Pools::~Pools() {
  gone = true;
  current = nullptr;
}

[[gnu::noinline]] Pools* make_pools() {
  if (Pools::gone) return nullptr;
  static thread_local Pools p;
  Pools::current = &p;
  return &p;
}

// Null once the thread's pools are destroyed (a Peer may outlive them): then plain allocation.
inline Pools* pools() {
  if (Pools* p = Pools::current) [[likely]] return p;
  return make_pools();
}

Buffer take_empty() {
  Pools* pool = pools();
  if (!pool || pool->buffers.empty()) return {};
  Pools& p = *pool;
  Buffer b = std::move(p.buffers.back());
  p.buffers.pop_back();
  p.buffer_bytes -= b.capacity();
  return b;
}

}  // namespace

Buffer take_buffer(Bytes bytes) {
  Buffer b = take_empty();
  b.assign(bytes.begin(), bytes.end());
  return b;
}

Buffer take_zeroed_buffer(std::size_t size) {
  Buffer b = take_empty();
  b.assign(size, 0);
  return b;
}

void give_buffer(Buffer&& buffer) noexcept {
  const std::size_t capacity = buffer.capacity();
  Pools* pool = pools();
  if (!pool || capacity == 0 || capacity > kMaxKeptCapacity || pool->buffers.size() >= kMaxKeptBuffers ||
      pool->buffer_bytes + capacity > kMaxKeptBytes) {
    Buffer().swap(buffer);
    return;
  }
  Pools& p = *pool;
  buffer.clear();
  p.buffer_bytes += capacity;
  p.buffers.push_back(std::move(buffer));
}

// A kept block keeps its buffer too (counted in buffer_bytes): a queued packet then costs one
// pool access, not a block's and a buffer's.
SharedPayload SharedPayload::copy_of(Bytes bytes) {
  Pools* pool = pools();
  Block* block = nullptr;
  if (!pool || pool->blocks.empty()) {
    block = new Block;
    block->bytes = take_empty();
  } else {
    block = pool->blocks.back().release();
    pool->blocks.pop_back();
    pool->buffer_bytes -= block->bytes.capacity();
  }
  block->refs = 1;
  // Grown to its whole capacity once, so the next refills of this block never zero-fill.
  if (block->bytes.size() < bytes.size()) block->bytes.resize(std::max(bytes.size(), block->bytes.capacity()));
  if (!bytes.empty()) std::memcpy(block->bytes.data(), bytes.data(), bytes.size());
  block->size = static_cast<std::uint32_t>(bytes.size());
  SharedPayload p;
  p.block_ = block;
  return p;
}

void SharedPayload::release(Block* block) noexcept {
  Pools* pool = pools();
  if (!pool || pool->blocks.size() >= kMaxKeptBlocks) {
    give_buffer(std::move(block->bytes));
    delete block;
    return;
  }
  const std::size_t capacity = block->bytes.capacity();
  if (capacity > kMaxKeptCapacity || pool->buffer_bytes + capacity > kMaxKeptBytes) {
    Buffer().swap(block->bytes);
  } else {
    pool->buffer_bytes += capacity;
  }
  pool->blocks.emplace_back(block);
}

}  // namespace volley::protocol::detail

namespace volley::protocol {

void recycle_payload(std::vector<std::uint8_t>&& payload) noexcept { detail::give_buffer(std::move(payload)); }

}  // namespace volley::protocol
