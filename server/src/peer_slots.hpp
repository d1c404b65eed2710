// The slot table of a Host: pooled server-role Peers, each bound to one remote (address, 12-bit
// id). The id only has to be unique per remote address (a client sends to the id we hand it in
// VERIFY_CONNECT and we always know its address), so ids repeat across addresses and the table
// can hold far more than ENet's 4095 peers. The per-datagram lookup (find) is one probe run in a
// flat SlotIndex keyed by the sender's PackedAddress, packed once per datagram by the caller,
// and the id; the other lookups are hash lookups too. Nothing here walks the table except the
// explicit for_each_live() used at shutdown. Released (address, id) pairs linger
// for a while as "departed": a client's retransmitted final DISCONNECT that crossed our ack is
// then recognised as late rather than unknown, and the id is not handed to a new client at the
// same address while such stragglers may still arrive.
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>
#include <deque>
#include <memory>
#include <optional>
#include <unordered_map>
#include <vector>

#include "packed_address.hpp"
#include "slot_index.hpp"
#include "stats.hpp"
#include "volley/protocol/time.hpp"

#include "volley/engine/udp.hpp"
#include "volley/protocol/peer.hpp"

namespace volley::server {

// Ids a remote may address: 0..0xFFE (0xFFF means "no peer yet").
inline constexpr std::uint16_t kIdsPerAddress = protocol::kMaxPeerId;
// How long a released (address, id) stays "departed". A stock client whose DISCONNECT ack we
// sent keeps retransmitting only until that ack arrives; a lost ack makes it retry until its
// timeout (ENet's timeout minimum is 5 s), so 5 s covers the stragglers that matter.
inline constexpr TimePoint kDepartedLingerUs = 5'000'000;

struct Slot {
  std::optional<protocol::Peer> peer;  // kept across reuse: the pool
  engine::Address address;             // normalised (unmapped): the reply destination
  PackedAddress key;                   // the same address packed: what find() compares
  std::uint32_t connect_id = 0;
  std::uint32_t generation = 1;        // bumped on release so stale handles miss
  std::uint32_t connected_index = 0;   // position in PeerSlots::connected() while connected
  std::uint16_t local_id = 0;
  bool live = false;       // bound to a remote
  bool touched = false;    // already in the Host's touched list
  bool connected = false;  // connect event seen, no disconnect event yet
};

enum class AcquireError : std::uint8_t { kOk, kFull, kPerIpCap, kAddressFull };

struct Acquired {
  std::uint32_t slot = 0;
  AcquireError error = AcquireError::kOk;
};

// The slots themselves: fixed-size chunks, so growth never moves a Slot (the Host keeps Slot
// references across callbacks that may add peers) and an index is one shift and one mask away,
// not std::deque's map arithmetic (several deque lookups per datagram showed in callgrind).
class SlotStore {
 public:
  Slot& operator[](std::uint32_t index) noexcept { return (*chunks_[index >> kShift])[index & kMask]; }
  const Slot& operator[](std::uint32_t index) const noexcept {
    return (*chunks_[index >> kShift])[index & kMask];
  }
  std::size_t size() const noexcept { return size_; }
  void emplace_back() {
    if ((size_ >> kShift) == chunks_.size()) chunks_.push_back(std::make_unique<Chunk>());
    ++size_;
  }

 private:
  static constexpr std::uint32_t kShift = 6;  // 64 slots a chunk
  static constexpr std::uint32_t kMask = (1u << kShift) - 1;
  using Chunk = std::array<Slot, std::size_t{1} << kShift>;
  std::vector<std::unique_ptr<Chunk>> chunks_;
  std::size_t size_ = 0;
};

class PeerSlots {
 public:
  // `seed` keys the index hashes (secret per Host: remote senders cannot aim at one probe run).
  PeerSlots(std::size_t capacity, std::size_t per_ip_cap, const protocol::PeerConfig& config,
            std::uint64_t seed = 0);

  Slot& operator[](std::uint32_t index) { return slots_[index]; }
  const Slot& operator[](std::uint32_t index) const { return slots_[index]; }
  std::size_t allocated() const noexcept { return slots_.size(); }
  std::size_t capacity() const noexcept { return capacity_; }
  std::size_t live() const noexcept { return live_; }

  // The live slot bound to (address, id): the routing of every datagram.
  std::optional<std::uint32_t> find(const PackedAddress& address, std::uint16_t id) const {
    const std::uint32_t index = by_id_.find(address.hash(seed_, id), [&](std::uint32_t i) {
      const Slot& slot = slots_[i];
      return slot.local_id == id && slot.key == address;
    });
    if (index == SlotIndex::kNone) return std::nullopt;
    return index;
  }
  // A live slot already holding this (address, connectID): the CONNECT is a retransmission.
  bool holds_connect(const PackedAddress& address, std::uint32_t connect_id) const;
  // Whether acquire() would find room for this address now (capacity, per-IP cap).
  AcquireError can_acquire(const PackedAddress& address) const;
  // Binds a free slot (its Peer DISCONNECTED) to the remote under `id`, which the caller chose
  // free for this address (the handshake's cookie id); the caller then hands the Peer the proof.
  Acquired acquire(const engine::Address& address, std::uint32_t connect_id, std::uint16_t id);
  // Frees the slot; its (address, id) is remembered as departed until now + kDepartedLingerUs.
  void release(std::uint32_t index, TimePoint now);
  // True when (address, id) was released within the linger time: a late datagram, not a bad one.
  bool departed(const PackedAddress& address, std::uint16_t id, TimePoint now);
  std::size_t departed_count() const noexcept { return departed_.size(); }
  // IPs with a live-slot count (kept only when a per-IP cap is set).
  std::size_t per_ip_addresses() const noexcept { return per_ip_.size(); }

  // Slots whose connect event has been delivered: broadcast targets. Dense, O(1) add/remove.
  const std::vector<std::uint32_t>& connected() const noexcept { return connected_; }
  void mark_connected(std::uint32_t index);
  void mark_unconnected(std::uint32_t index);

  template <class Fn>
  void for_each_live(Fn&& fn) {
    for (std::uint32_t i = 0; i < slots_.size(); ++i) {
      if (slots_[i].live) fn(i);
    }
  }

 private:
  struct IdKey {
    PackedAddress address;
    std::uint32_t value;  // 12-bit id
    bool operator==(const IdKey&) const = default;
  };
  struct IdKeyHash {
    std::uint64_t seed;
    std::size_t operator()(const IdKey& k) const noexcept { return k.address.hash(seed, k.value); }
  };
  struct AddressHash {
    std::uint64_t seed;
    std::size_t operator()(const PackedAddress& a) const noexcept { return a.hash(seed, 0); }
  };
  // Different seeds per index: an id and a connectID of equal value do not share probe runs.
  std::uint64_t connect_seed() const noexcept { return seed_ ^ 0x5C0FFEE5C0FFEE5Cull; }

  std::size_t capacity_;
  std::size_t per_ip_cap_;
  protocol::PeerConfig config_;
  std::uint64_t seed_;
  SlotStore slots_;
  std::vector<std::uint32_t> free_;
  std::size_t live_ = 0;
  SlotIndex by_id_;       // (key, local_id) of every live slot
  SlotIndex by_connect_;  // (key, connect_id) of every live slot
  // Live ids per address (at most kIdsPerAddress).
  std::unordered_map<PackedAddress, std::uint16_t, AddressHash> addresses_;
  // Keyed by PackedAddress::any_port(): every port of one client IP counts against its cap.
  std::unordered_map<PackedAddress, std::uint32_t, AddressHash> per_ip_;
  std::vector<std::uint32_t> connected_;
  // Departed (address, id) -> release time, plus the same keys in release order so expiry
  // is a pop from the front (release times only grow). Bounded by capacity_ entries.
  void expire_departed(TimePoint now);
  std::unordered_map<IdKey, TimePoint, IdKeyHash> departed_;
  std::deque<std::pair<IdKey, TimePoint>> departed_order_;
};

}  // namespace volley::server
