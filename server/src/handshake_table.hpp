// The half-open table of the server's stateless handshake (docs/handshake.md). A CONNECT gets
// only a HalfOpen entry here, no Peer, no buffers and no timer: what the CONNECT asked for, the
// id and session ids we assigned, the cookie our reply carried and when we sent it.
//
// Order: an intrusive age list links the entries from oldest to newest, so when the table is full
// the oldest is evicted, and expiry is lazy (the oldest entries are dropped when a lookup or an
// insert passes them). Lookup: two chained hash indexes, keyed with a secret so a spoofer cannot
// pile entries into one chain, find an entry by (address, connectID) for a retransmitted CONNECT
// and by (address, peer id) for the client's next datagram.
//
// Memory follows the entries in flight, not the CONNECTs ever seen: entries live in chunks that
// are allocated when the table grows into them and freed when they empty again. A new entry takes
// a free slot of the lowest chunk with room, the most recently freed one first, so a few entries
// in flight keep reusing the same slots and a flood's chunks drain back to the first one. The
// first chunk stays; one emptied chunk is kept as a spare (no allocation each time the table
// crosses a chunk boundary) until the table is empty. At most `capacity` entries; a new entry,
// an erase or an eviction is O(1) apart from the index chain walk the keyed hash keeps short.
#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>
#include <optional>
#include <vector>

#include "siphash.hpp"
#include "volley/engine/udp.hpp"
#include "volley/protocol/peer.hpp"
#include "volley/protocol/time.hpp"

namespace volley::server {

// The keyed cookie of one CONNECT: 30 bits that a stock client echoes back without knowing it.
struct Cookie {
  std::uint16_t peer_id = 0;        // 0..0xFFE: the id the client will address (12 bits)
  std::uint8_t client_session = 0;  // the session bits in the client's headers (2 bits)
  std::uint16_t sent_time = 0;      // our header sent time, echoed in the client's ACK (16 bits)
};
// Cookies stay identical within one bucket of time (and one key), so a CONNECT resent after its
// entry was evicted gets the same reply. `variant` picks one of several cookies for the same
// CONNECT: with the range coder, a reply must sometimes try another to compress small enough.
inline constexpr TimePoint kCookieBucketUs = 16 * volley::kSecond;
inline constexpr std::uint8_t kCookieVariants = 4;
Cookie make_cookie(const SipKey& key, const engine::Address& from, const std::array<std::uint8_t, 4>& connect_id,
                   TimePoint now, std::uint8_t variant = 0);

struct HalfOpen {
  engine::Address address;
  protocol::ConnectRequest request;  // as the CONNECT negotiated it
  TimePoint created = 0;
  TimePoint last_sent = 0;           // our latest reply: the first RTT sample is measured from it
  std::uint16_t peer_id = 0;
  std::uint16_t cookie_time = 0;
  std::uint8_t client_session = 0;
  std::uint8_t server_session = 0;
  bool used = false;
  // The table's links: the two index chains and their bucket numbers, the age list (`newer`
  // doubles as the free list's link while the slot is free), and the entry's own slot number.
  std::uint32_t next_by_connect = 0;
  std::uint32_t next_by_id = 0;
  std::uint32_t bucket_by_connect = 0;
  std::uint32_t bucket_by_id = 0;
  std::uint32_t older = 0;
  std::uint32_t newer = 0;
  std::uint32_t slot = 0;
};

class HandshakeTable {
 public:
  // Entries per chunk (fewer for a table smaller than this).
  static constexpr std::size_t kChunkEntries = 1024;

  HandshakeTable(std::size_t capacity, TimePoint lifetime, const SipKey& index_key);

  // A pointer stays valid until the entry is erased, evicted or expired: any insert, find or
  // erase may do that, so callers use it at once and keep no pointer across calls.
  HalfOpen* find_connect(TimePoint now, const engine::Address& from, std::uint32_t connect_id);
  HalfOpen* find_id(TimePoint now, const engine::Address& from, std::uint16_t peer_id);
  // A new entry for (from, connect_id, peer_id), evicting the oldest when full; the caller fills
  // in the rest. (from, peer_id) must not be in the table already.
  HalfOpen& insert(TimePoint now, const engine::Address& from, std::uint32_t connect_id, std::uint16_t peer_id);
  void erase(HalfOpen& entry);

  std::size_t size() const noexcept { return size_; }
  std::size_t capacity() const noexcept { return capacity_; }
  std::uint64_t evicted() const noexcept { return evicted_; }
  std::uint64_t expired() const noexcept { return expired_; }
  // When the newest entry still held was created (entries not yet lazily expired included).
  std::optional<TimePoint> newest_created() const noexcept;
  // Chunks allocated now (the spare included) and the entry memory they hold.
  std::size_t chunks_allocated() const noexcept { return chunks_allocated_; }
  std::size_t entry_bytes() const noexcept { return chunks_allocated_ * chunk_entries_ * sizeof(HalfOpen); }

 private:
  static constexpr std::uint32_t kNone = 0xFFFFFFFFu;
  struct Chunk {
    std::unique_ptr<HalfOpen[]> entries;  // null while the chunk is not in use
    std::uint32_t used = 0;
    std::uint32_t fresh = 0;              // slots below this were handed out since allocation
    std::uint32_t free_head = kNone;      // freed slots, most recent first
  };

  HalfOpen& at(std::uint32_t index) { return chunks_[index >> chunk_shift_].entries[index & chunk_mask_]; }
  const HalfOpen& at(std::uint32_t index) const { return const_cast<HandshakeTable*>(this)->at(index); }
  std::uint32_t bucket(const engine::Address& from, std::uint8_t kind, std::uint32_t value) const;
  static std::uint32_t connect_key(const HalfOpen& e);
  std::uint32_t chunk_limit(std::size_t chunk) const noexcept;
  std::uint32_t take_slot();
  void free_slot(std::uint32_t index);
  void expire(TimePoint now);
  void unlink(std::uint32_t index);

  std::size_t capacity_;
  TimePoint lifetime_;
  SipKey key_;
  std::uint32_t chunk_entries_ = 0;
  std::uint32_t chunk_shift_ = 0;
  std::uint32_t chunk_mask_ = 0;
  std::vector<Chunk> chunks_;
  std::vector<std::uint64_t> room_;           // bit c: chunk c has a free slot (or is unallocated)
  std::unique_ptr<HalfOpen[]> spare_;         // an emptied chunk's memory, for the next one
  std::size_t chunks_allocated_ = 0;
  std::uint32_t oldest_ = kNone;
  std::uint32_t newest_ = kNone;
  std::size_t size_ = 0;
  std::uint32_t mask_ = 0;
  std::vector<std::uint32_t> by_connect_;
  std::vector<std::uint32_t> by_id_;
  std::uint64_t evicted_ = 0;
  std::uint64_t expired_ = 0;
};

}  // namespace volley::server
