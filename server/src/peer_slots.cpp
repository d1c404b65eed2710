// PeerSlots: slot choice for new CONNECTs (free list, per-address id, per-IP cap) and the hash
// indexes that route every later datagram. Peers are constructed once per slot and reused; a
// slot only builds a new Peer when the id it must answer to changes.
#include "peer_slots.hpp"

namespace volley::server {

PeerSlots::PeerSlots(std::size_t capacity, std::size_t per_ip_cap,
                     const protocol::PeerConfig& config)
    : capacity_(capacity), per_ip_cap_(per_ip_cap), config_(config) {
  // Up to a modest size up front; beyond that the maps grow with use.
  const std::size_t hint = capacity < 65536 ? capacity : 65536;
  by_id_.reserve(hint);
  by_connect_.reserve(hint);
  addresses_.reserve(hint);
  connected_.reserve(hint);
}

std::optional<std::uint32_t> PeerSlots::find(const engine::Address& address,
                                             std::uint16_t id) const {
  const auto it = by_id_.find(IdKey{address, id});
  if (it == by_id_.end()) return std::nullopt;
  return it->second;
}

bool PeerSlots::holds_connect(const engine::Address& address, std::uint32_t connect_id) const {
  return by_connect_.contains(IdKey{address, connect_id});
}

AcquireError PeerSlots::can_acquire(const engine::Address& address) const {
  if (live_ >= capacity_) return AcquireError::kFull;
  if (per_ip_cap_ > 0) {
    const auto it = per_ip_.find(address.with_port(0));
    if (it != per_ip_.end() && it->second >= per_ip_cap_) return AcquireError::kPerIpCap;
  }
  const auto use = addresses_.find(address);
  if (use != addresses_.end() && use->second.count >= kIdsPerAddress) return AcquireError::kAddressFull;
  return AcquireError::kOk;
}

Acquired PeerSlots::acquire(const engine::Address& address, std::uint32_t connect_id, std::uint16_t id) {
  if (const AcquireError error = can_acquire(address); error != AcquireError::kOk) return {0, error};
  if (id >= kIdsPerAddress || by_id_.contains(IdKey{address, id})) return {0, AcquireError::kAddressFull};
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
  if (!slot.peer) {
    slot.peer.emplace(protocol::PeerRole::kServer, id, config_);
    slot.seen = {};
  }
  addresses_[address].count += 1;
  slot.address = address;
  slot.connect_id = connect_id;
  slot.local_id = id;
  slot.live = true;
  slot.connected = false;
  by_id_.emplace(IdKey{address, id}, index);
  by_connect_.emplace(IdKey{address, connect_id}, index);
  if (per_ip_cap_ > 0) per_ip_[address.with_port(0)] += 1;
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
  const IdKey key{slot.address, slot.local_id};
  departed_[key] = now;
  departed_order_.emplace_back(key, now);
  if (slot.connected) mark_unconnected(index);
  by_id_.erase(IdKey{slot.address, slot.local_id});
  by_connect_.erase(IdKey{slot.address, slot.connect_id});
  if (const auto it = addresses_.find(slot.address); it != addresses_.end()) {
    if (--it->second.count == 0) addresses_.erase(it);
  }
  if (per_ip_cap_ > 0) {
    if (const auto it = per_ip_.find(slot.address.with_port(0)); it != per_ip_.end()) {
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

bool PeerSlots::departed(const engine::Address& address, std::uint16_t id, TimePoint now) {
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
