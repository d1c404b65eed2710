// SlotIndex: insertion, erasure with tombstones, and rehashing from the stored tags.
#include "slot_index.hpp"

namespace volley::server {

namespace {

constexpr std::size_t kMinCapacity = 16;

std::size_t capacity_for(std::size_t live) {
  std::size_t c = kMinCapacity;
  while (c < live * 2) c *= 2;  // live entries stay at or under half
  return c;
}

}  // namespace

SlotIndex::SlotIndex(std::size_t expected) { rehash(capacity_for(expected)); }

void SlotIndex::place(std::uint32_t tag, std::uint32_t slot) {
  for (std::size_t i = tag & mask_;; i = (i + 1) & mask_) {
    Entry& e = entries_[i];
    if (e.slot == kEmpty || e.slot == kTombstone) {
      if (e.slot == kTombstone) tombstones_ -= 1;
      e = Entry{tag, slot};
      size_ += 1;
      return;
    }
  }
}

void SlotIndex::insert(std::uint64_t hash, std::uint32_t slot) {
  // Keep an empty entry reachable from every position: probes end there.
  if ((size_ + tombstones_ + 1) * 4 > entries_.size() * 3) rehash(capacity_for(size_ + 1));
  place(fold(hash), slot);
}

bool SlotIndex::erase(std::uint64_t hash, std::uint32_t slot) {
  const std::uint32_t tag = fold(hash);
  for (std::size_t i = tag & mask_;; i = (i + 1) & mask_) {
    Entry& e = entries_[i];
    if (e.slot == kEmpty) return false;
    if (e.slot != slot || e.tag != tag) continue;
    size_ -= 1;
    if (entries_[(i + 1) & mask_].slot != kEmpty) {
      e.slot = kTombstone;  // a later entry's probe run passes through here
      tombstones_ += 1;
      return true;
    }
    // The run ends here: this entry and the tombstones just before it end no probe run any more.
    e = Entry{};
    for (std::size_t j = (i + mask_) & mask_; entries_[j].slot == kTombstone; j = (j + mask_) & mask_) {
      entries_[j] = Entry{};
      tombstones_ -= 1;
    }
    return true;
  }
}

void SlotIndex::rehash(std::size_t capacity) {
  std::vector<Entry> old(capacity);
  old.swap(entries_);
  mask_ = capacity - 1;
  size_ = 0;
  tombstones_ = 0;
  for (const Entry& e : old) {
    if (e.slot != kEmpty && e.slot != kTombstone) place(e.tag, e.slot);
  }
}

}  // namespace volley::server
