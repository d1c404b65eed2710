// Recycled storage for the per-packet objects of the data path, so that a peer in steady state
// sends, receives and reassembles packets without touching the heap (issue 13, item 5):
// - payload buffers (std::vector<std::uint8_t>): a delivered PeerEvent's payload, a queued
//   packet's copy of the caller's bytes, a reassembly buffer;
// - SharedPayload: one queued packet shared by its fragment commands (a refcount, not atomic:
//   a packet never leaves the Peer that queued it, and a Peer is used by one thread at a time);
// - list nodes of the send window and the receive channels, moved in and out by splice.
// Each pool is per thread and bounded in count and bytes, so a burst does not pin its high-water
// mark; beyond the bounds objects are simply freed. Nothing here is visible on the wire.
#pragma once

#include <cstddef>
#include <cstdint>
#include <list>
#include <utility>
#include <vector>

#include "volley/protocol/enet_wire.hpp"

namespace volley::protocol::detail {

using Buffer = std::vector<std::uint8_t>;

// A buffer holding a copy of `bytes`, reused from the pool when one is free.
Buffer take_buffer(Bytes bytes);
// A zero-filled buffer of `size` bytes (reassembly: no uninitialised byte is ever delivered).
Buffer take_zeroed_buffer(std::size_t size);
// Back to the pool (or freed when the pool is full or the buffer too large).
void give_buffer(Buffer&& buffer) noexcept;

// A queued packet's bytes, shared by the commands that carry them (one, or one per fragment).
class SharedPayload {
 public:
  SharedPayload() noexcept = default;
  static SharedPayload copy_of(Bytes bytes);
  SharedPayload(const SharedPayload& other) noexcept : block_(other.block_) {
    if (block_) ++block_->refs;
  }
  SharedPayload(SharedPayload&& other) noexcept : block_(std::exchange(other.block_, nullptr)) {}
  SharedPayload& operator=(SharedPayload other) noexcept {
    std::swap(block_, other.block_);
    return *this;
  }
  ~SharedPayload() { reset(); }

  void reset() noexcept {
    if (block_ && --block_->refs == 0) release(block_);
    block_ = nullptr;
  }
  explicit operator bool() const noexcept { return block_ != nullptr; }
  bool operator==(const SharedPayload& other) const noexcept { return block_ == other.block_; }
  Bytes bytes() const noexcept { return block_ ? Bytes(block_->bytes.data(), block_->size) : Bytes(); }

  // `bytes` keeps the length it last grew to, so refilling a kept block is one memcpy (no
  // vector assign); `size` is how much of it the packet uses.
  struct Block {
    std::uint32_t refs = 0;
    std::uint32_t size = 0;
    Buffer bytes;
  };

 private:
  static void release(Block* block) noexcept;
  Block* block_ = nullptr;
};

// Spare std::list nodes of one element type, per thread. A node moves between a live list and
// the spare list by splice (any two std::lists with std::allocator may exchange nodes), so the
// element is constructed once and then only assigned. `Reset` clears an element for reuse and
// may keep its heap parts when they are worth keeping (see ReceiveChannel).
template <class T>
class NodePool {
 public:
  using List = std::list<T>;

  // A node inserted before `pos` in `list`: a spare one (as its Reset left it) when there is one,
  // else a default-constructed one.
  static typename List::iterator acquire(List& list, typename List::iterator pos) {
    List* spare = spares();
    if (!spare || spare->empty()) return list.emplace(pos);
    list.splice(pos, *spare, spare->begin());
    return std::prev(pos);
  }
  // Removes the node at `it` from `list`, keeping it as a spare when the pool has room.
  template <class Reset>
  static typename List::iterator erase(List& list, typename List::iterator it, Reset&& reset) {
    List* spare = spares();
    if (!spare || spare->size() >= kMaxSpare) return list.erase(it);
    auto next = std::next(it);
    reset(*it);
    spare->splice(spare->begin(), list, it);
    return next;
  }
  template <class Reset>
  static void clear(List& list, Reset&& reset) {
    while (!list.empty()) erase(list, list.begin(), reset);
  }

 private:
  static constexpr std::size_t kMaxSpare = 1024;
  // After the thread's pool is destroyed (thread exit; for the main thread before static
  // destructors run) lists fall back to plain allocation: a Peer may outlive the pool.
  struct Spares {
    List list;
    ~Spares() { gone = true; }
  };
  static inline thread_local bool gone = false;  // trivially destructible: readable to the end
  static List* spares() {
    if (gone) return nullptr;
    static thread_local Spares spare;
    return &spare.list;
  }
};

}  // namespace volley::protocol::detail
