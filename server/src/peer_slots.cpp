// PeerSlots: slot choice for new CONNECTs (free list, per-address id, per-IP cap) and the
// indexes that route every later datagram. Peers are constructed once per slot and reused; a
// slot only builds a new Peer when the id it must answer to changes.
#include "peer_slots.hpp"

namespace volley::server {

PeerSlots::PeerSlots(std::size_t capacity, std::size_t per_ip_cap,
                     const protocol::PeerConfig& config, std::uint64_t seed)
    : capacity_(capacity),
      per_ip_cap_(per_ip_cap),
      config_(config),
      seed_(seed),
      addresses_(0, AddressHash{seed}),
      per_ip_(0, AddressHash{seed}),
      departed_(0, IdKeyHash{seed}) {}

bool PeerSlots::holds_connect(const PackedAddress& address, std::uint32_t connect_id) const {
  return by_connect_.find(address.hash(connect_seed(), connect_id), [&](std::uint32_t i) {
    const Slot& slot = slots_[i];
    return slot.connect_id == connect_id && slot.key == address;
  }) != SlotIndex::kNone;
}

AcquireError PeerSlots::can_acquire(const PackedAddress& address) const {
  if (live_ >= capacity_) return AcquireError::kFull;
  if (per_ip_cap_ > 0) {
    const auto it = per_ip_.find(address.any_port());
    if (it != per_ip_.end() && it->second >= per_ip_cap_) return AcquireError::kPerIpCap;
  }
  const auto use = addresses_.find(address);
  if (use != addresses_.end() && use->second >= kIdsPerAddress) return AcquireError::kAddressFull;
  return AcquireError::kOk;
}

Acquired PeerSlots::acquire(const engine::Address& address, std::uint32_t connect_id, std::uint16_t id) {
  const PackedAddress key = PackedAddress::of(address);
  if (const AcquireError error = can_acquire(key); error != AcquireError::kOk) return {0, error};
  if (id >= kIdsPerAddress || find(key, id)) return {0, AcquireError::kAddressFull};
  std::uint32_t index = 0;
  if (!free_.empty()) {
    index = free_.back();
    free_.pop_back();
  } else {
    index = static_cast<std::uint32_t>(slots_.size());
    slots_.emplace_back();
  }
  Slot& slot = slots_[index];
  // The pooled Peer takes the id (and sessions) from the handshake when it accepts.
  if (!slot.peer) slot.peer.emplace(protocol::PeerRole::kServer, id, config_);
  addresses_[key] += 1;
  slot.address = address;
  slot.key = key;
  slot.connect_id = connect_id;
  slot.local_id = id;
  slot.live = true;
  slot.connected = false;
  by_id_.insert(key.hash(seed_, id), index);
  by_connect_.insert(key.hash(connect_seed(), connect_id), index);
  if (per_ip_cap_ > 0) per_ip_[key.any_port()] += 1;
  live_ += 1;
  return {index, AcquireError::kOk};
}

void PeerSlots::release(std::uint32_t index, TimePoint now) {
  Slot& slot = slots_[index];
  if (!slot.live) return;
  expire_departed(now);
  if (departed_.size() >= capacity_ && !departed_order_.empty()) {  // bound: forget the oldest
    const auto& [key, at] = departed_order_.front();
    if (const auto it = departed_.find(key); it != departed_.end() && it->second == at) departed_.erase(it);
    departed_order_.pop_front();
  }
  const IdKey key{slot.key, slot.local_id};
  departed_[key] = now;
  departed_order_.emplace_back(key, now);
  if (slot.connected) mark_unconnected(index);
  by_id_.erase(slot.key.hash(seed_, slot.local_id), index);
  by_connect_.erase(slot.key.hash(connect_seed(), slot.connect_id), index);
  if (const auto it = addresses_.find(slot.key); it != addresses_.end()) {
    if (--it->second == 0) addresses_.erase(it);
  }
  if (per_ip_cap_ > 0) {
    if (const auto it = per_ip_.find(slot.key.any_port()); it != per_ip_.end()) {
      if (--it->second == 0) per_ip_.erase(it);
    }
  }
  slot.live = false;
  slot.generation += 1;
  if (slot.generation == 0) slot.generation = 1;  // 0 never names a live peer
  live_ -= 1;
  free_.push_back(index);
}

void PeerSlots::expire_departed(TimePoint now) {
  while (!departed_order_.empty() && now - departed_order_.front().second >= kDepartedLingerUs) {
    const auto& [key, at] = departed_order_.front();
    // A key released again later has a newer time in the map: that entry stays.
    if (const auto it = departed_.find(key); it != departed_.end() && it->second == at) departed_.erase(it);
    departed_order_.pop_front();
  }
}

bool PeerSlots::departed(const PackedAddress& address, std::uint16_t id, TimePoint now) {
  expire_departed(now);
  return departed_.contains(IdKey{address, id});
}

void PeerSlots::mark_connected(std::uint32_t index) {
  Slot& slot = slots_[index];
  if (slot.connected) return;
  slot.connected = true;
  slot.connected_index = static_cast<std::uint32_t>(connected_.size());
  connected_.push_back(index);
}

void PeerSlots::mark_unconnected(std::uint32_t index) {
  Slot& slot = slots_[index];
  if (!slot.connected) return;
  slot.connected = false;
  const std::uint32_t last = connected_.back();
  connected_[slot.connected_index] = last;
  slots_[last].connected_index = slot.connected_index;
  connected_.pop_back();
}

}  // namespace volley::server
