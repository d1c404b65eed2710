// SlotIndex: a flat open-addressing table from a key's hash to a slot number, 8 bytes an entry.
// It stores no keys: find() takes the hash and a predicate that compares the key against the
// slot itself (PeerSlots keeps each slot's packed address there anyway). A lookup is then one
// probe run in a small contiguous array plus the slot's own cache line, which the caller touches
// next regardless. Linear probing; erased entries become tombstones (or empty, when the run after
// them is already empty); the table rehashes when live entries plus tombstones pass 3/4, growing
// only when live entries alone pass half. The 32-bit tag is the folded hash, and a position is
// tag & mask, so rehashing needs no key: capacity is at most 2^31 entries.
#pragma once

#include <cstddef>
#include <cstdint>
#include <vector>

namespace volley::server {

class SlotIndex {
 public:
  static constexpr std::uint32_t kNone = 0xFFFFFFFFu;

  explicit SlotIndex(std::size_t expected = 0);

  // The slot whose entry has this hash and for which match(slot) holds; kNone if none.
  template <class Match>
  std::uint32_t find(std::uint64_t hash, Match&& match) const {
    const std::uint32_t tag = fold(hash);
    for (std::size_t i = tag & mask_;; i = (i + 1) & mask_) {
      const Entry e = entries_[i];
      if (e.slot == kEmpty) return kNone;
      if (e.tag == tag && e.slot != kTombstone && match(e.slot)) return e.slot;
    }
  }
  // Adds (hash -> slot); the caller knows the key is not present yet.
  void insert(std::uint64_t hash, std::uint32_t slot);
  // Removes the entry (hash -> slot); false if there was none.
  bool erase(std::uint64_t hash, std::uint32_t slot);

  std::size_t size() const noexcept { return size_; }
  std::size_t capacity() const noexcept { return entries_.size(); }
  std::size_t tombstones() const noexcept { return tombstones_; }

 private:
  static constexpr std::uint32_t kEmpty = 0xFFFFFFFFu;
  static constexpr std::uint32_t kTombstone = 0xFFFFFFFEu;
  struct Entry {
    std::uint32_t tag = 0;
    std::uint32_t slot = kEmpty;
  };
  static std::uint32_t fold(std::uint64_t hash) noexcept {
    return static_cast<std::uint32_t>(hash ^ (hash >> 32));
  }
  void rehash(std::size_t capacity);
  void place(std::uint32_t tag, std::uint32_t slot);

  std::vector<Entry> entries_;  // power-of-two size, always with at least one empty entry
  std::size_t mask_ = 0;
  std::size_t size_ = 0;
  std::size_t tombstones_ = 0;
};

}  // namespace volley::server
