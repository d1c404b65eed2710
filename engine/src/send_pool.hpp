// SendPool: engine-owned buffers for outgoing datagrams. send() copies into a SendOp, so a
// datagram stays valid while the kernel (io_uring, IOCP) still reads it after submission. Slots
// come in fixed chunks that never move; released slots are reused LIFO to stay cache-warm.
// A datagram of up to kSmallDatagram bytes (acks, pings, typical game packets) goes into the
// op's own inline buffer; only a larger one uses the op's full-size buffer. The full-size
// buffers are allocated uninitialised, so their pages become resident only when a large
// datagram is written there: a burst of small sends no longer leaves ~4 KiB of RSS per op
// (docs/scale.md, "Memory").
// A burst (thousands of peers connecting at once) grows the pool; trim() gives back to the OS
// the chunks that none of the last kTrimWindow intervals needed (a load that bursts every few
// seconds keeps its chunks instead of freeing and refilling them each time). It runs only when no op is in use, so it rebuilds the
// free list from the chunks it keeps and nothing is counted per packet beyond a high-water mark.
#pragma once

#include <algorithm>
#include <array>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <vector>
#if defined(__GLIBC__)
#include <malloc.h>
#endif

#include "volley/engine/udp.hpp"

namespace volley::engine {

inline constexpr std::size_t kSmallDatagram = 256;

struct SendOp {
  std::byte* data = nullptr;  // `small` or `large`, chosen by SendPool::acquire
  std::uint32_t size = 0;
  std::uint32_t socket_slot = 0;  // socket_slot() of the OutDatagram's socket
  Address to;
  // Per-operation room for the backend's kernel-facing structures (msghdr + iovec, or
  // OVERLAPPED + WSABUF), which must live exactly as long as the operation.
  alignas(16) std::byte scratch[112];
  std::byte* large = nullptr;  // datagram_bytes of room, in the chunk's shared block
  std::byte small[kSmallDatagram];
};

class SendPool {
 public:
  SendPool(std::size_t datagram_bytes, std::size_t max_slots)
      : datagram_bytes_(datagram_bytes), max_slots_(max_slots) {}

  // An op whose `data` holds at least `bytes` (≤ the pool's datagram_bytes).
  SendOp* acquire(std::size_t bytes) {
    if (free_.empty() && !grow()) return nullptr;
    SendOp* op = free_.back();
    free_.pop_back();
    if (++in_use_ > peak_) peak_ = in_use_;
    op->data = bytes <= kSmallDatagram ? op->small : op->large;
    return op;
  }
  void release(SendOp* op) noexcept {
    free_.push_back(op);
    --in_use_;
  }
  std::size_t in_use() const noexcept { return in_use_; }
  std::size_t capacity() const noexcept { return chunks_.size() * kChunk; }

  static constexpr std::size_t kTrimWindow = 8;

  // Ends an interval, and frees the chunks beyond what the most ops in use in any of the last
  // kTrimWindow intervals needed (at least one chunk stays), when no op is in use. Call it
  // rarely (the loop: once a second): it is O(capacity) when it frees. Returns chunks freed.
  std::size_t trim() {
    peaks_[next_peak_] = peak_;
    next_peak_ = (next_peak_ + 1) % kTrimWindow;
    peak_ = in_use_;
    const std::size_t peak = *std::max_element(peaks_.begin(), peaks_.end());
    const std::size_t keep = peak == 0 ? 1 : (peak + kChunk - 1) / kChunk;
    if (in_use_ != 0 || chunks_.size() <= keep) return 0;
    const std::size_t freed = chunks_.size() - keep;
    chunks_.resize(keep);
    chunks_.shrink_to_fit();
    free_.clear();
    free_.shrink_to_fit();
    free_.reserve(keep * kChunk);
    for (std::size_t c = keep; c-- > 0;) {
      for (std::size_t i = kChunk; i-- > 0;) free_.push_back(&chunks_[c]->ops[i]);
    }
#if defined(__GLIBC__)
    // The op arrays are below glibc's mmap threshold: without this their pages stay resident
    // in the heap after free (the datagram blocks are mmapped and go back on their own).
    malloc_trim(0);
#endif
    return freed;
  }

 private:
  static constexpr std::size_t kChunk = 256;

  bool grow() {
    if (chunks_.size() * kChunk >= max_slots_) return false;
    auto chunk = std::make_unique<Chunk>();
    chunk->ops = std::make_unique<SendOp[]>(kChunk);
    chunk->bytes = std::make_unique_for_overwrite<std::byte[]>(kChunk * datagram_bytes_);
    free_.reserve(free_.size() + kChunk);
    for (std::size_t i = kChunk; i-- > 0;) {
      chunk->ops[i].large = chunk->bytes.get() + i * datagram_bytes_;
      free_.push_back(&chunk->ops[i]);
    }
    chunks_.push_back(std::move(chunk));
    return true;
  }

  struct Chunk {
    std::unique_ptr<SendOp[]> ops;
    std::unique_ptr<std::byte[]> bytes;
  };
  std::size_t datagram_bytes_;
  std::size_t max_slots_;
  std::vector<std::unique_ptr<Chunk>> chunks_;
  std::vector<SendOp*> free_;
  std::size_t in_use_ = 0;
  std::size_t peak_ = 0;  // most ops in use since the last trim()
  std::array<std::size_t, kTrimWindow> peaks_{};  // the last intervals' peak_, a ring
  std::size_t next_peak_ = 0;
};

}  // namespace volley::engine
