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

// Round-robin from the last id handed to this address: O(1) for the usual one-client address,
// and never a rescan from 0 for a host that holds thousands of peers.
// A departed id is skipped too while any other id is free, so a straggler from the previous
// client can never reach (and, with a matching 2-bit session, disturb) a new one.
std::uint16_t PeerSlots::pick_id(const engine::Address& address, AddressUse& use) const {
  std::uint16_t id = use.next_id;
  bool skip_departed = !departed_.empty();
  for (std::size_t tried = 0;; ++tried) {
    if (tried == kIdsPerAddress) skip_departed = false;  // every free id departed: reuse one
    const IdKey key{address, id};
    if (!by_id_.contains(key) && !(skip_departed && departed_.contains(key))) break;
    id = static_cast<std::uint16_t>((id + 1) % kIdsPerAddress);
  }
  use.next_id = static_cast<std::uint16_t>((id + 1) % kIdsPerAddress);
  return id;
}

Acquired PeerSlots::acquire(const engine::Address& address, std::uint32_t connect_id) {
  if (live_ >= capacity_) return {0, AcquireError::kFull};
  engine::Address ip;
  if (per_ip_cap_ > 0) {
    ip = address.with_port(0);
    const auto it = per_ip_.find(ip);
    if (it != per_ip_.end() && it->second >= per_ip_cap_) return {0, AcquireError::kPerIpCap};
  }
  AddressUse& use = addresses_[address];
  if (use.count >= kIdsPerAddress) return {0, AcquireError::kAddressFull};

  std::uint32_t index = 0;
  if (!free_.empty()) {
    index = free_.back();
    free_.pop_back();
  } else {
    index = static_cast<std::uint32_t>(slots_.size());
    slots_.emplace_back();
  }
  Slot& slot = slots_[index];
  const std::uint16_t id = pick_id(address, use);
  use.count += 1;
  if (!slot.peer || slot.peer->incoming_peer_id() != id) {
    slot.peer.emplace(protocol::PeerRole::kServer, id, config_);
    slot.seen = {};
  }
  slot.address = address;
  slot.connect_id = connect_id;
  slot.local_id = id;
  slot.live = true;
  slot.connected = false;
  by_id_.emplace(IdKey{address, id}, index);
  by_connect_.emplace(IdKey{address, connect_id}, index);
  if (per_ip_cap_ > 0) per_ip_[ip] += 1;
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
