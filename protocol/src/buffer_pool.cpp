// Per-thread pools of payload buffers and shared-payload blocks; see buffer_pool.hpp.
#include "buffer_pool.hpp"

#include <algorithm>
#include <cstring>
#include <memory>

#include "volley/protocol/peer.hpp"

namespace volley::protocol::detail {

namespace {

// Kept buffers: at most this many, each at most kMaxKeptCapacity bytes (a full-MTU payload
// fits; a reassembled multi-datagram packet's buffer is freed), so a pool holds ~1 MiB at most.
constexpr std::size_t kMaxKeptBuffers = 512;
constexpr std::size_t kMaxKeptCapacity = 2048;
constexpr std::size_t kMaxKeptBlocks = 1024;

struct Pools {
  // Reserved up front, so giving back never allocates (and never throws).
  Pools() {
    buffers.reserve(kMaxKeptBuffers);
    blocks.reserve(kMaxKeptBlocks);
  }
  std::vector<Buffer> buffers;
  std::vector<std::unique_ptr<SharedPayload::Block>> blocks;
};

Pools& pools() {
  static thread_local Pools p;
  return p;
}

Buffer take_empty() {
  auto& free = pools().buffers;
  if (free.empty()) return {};
  Buffer b = std::move(free.back());
  free.pop_back();
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
  if (capacity == 0 || capacity > kMaxKeptCapacity) {
    Buffer().swap(buffer);
    return;
  }
  auto& free = pools().buffers;
  if (free.size() >= kMaxKeptBuffers) {
    Buffer().swap(buffer);
    return;
  }
  buffer.clear();
  free.push_back(std::move(buffer));
}

SharedPayload SharedPayload::copy_of(Bytes bytes) {
  auto& blocks = pools().blocks;
  Block* block = nullptr;
  if (blocks.empty()) {
    block = new Block;
  } else {
    block = blocks.back().release();
    blocks.pop_back();
  }
  block->refs = 1;
  block->bytes = take_buffer(bytes);
  SharedPayload p;
  p.block_ = block;
  return p;
}

void SharedPayload::release(Block* block) noexcept {
  give_buffer(std::move(block->bytes));
  auto& blocks = pools().blocks;
  if (blocks.size() >= kMaxKeptBlocks) {
    delete block;
    return;
  }
  blocks.emplace_back(block);
}

}  // namespace volley::protocol::detail

namespace volley::protocol {

void recycle_payload(std::vector<std::uint8_t>&& payload) noexcept { detail::give_buffer(std::move(payload)); }

}  // namespace volley::protocol
