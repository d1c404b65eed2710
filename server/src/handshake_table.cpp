// HandshakeTable and the cookie. Chains are singly linked through the entries; unlinking walks
// one chain, which the keyed hash keeps at about one entry on average.
#include "handshake_table.hpp"

#include <cstring>

#include "address_bytes.hpp"

namespace volley::server {

namespace {

constexpr std::uint8_t kCookieDomain = 0xC0;
constexpr std::uint8_t kConnectDomain = 0xC1;
constexpr std::uint8_t kIdDomain = 0xC2;

std::uint32_t as_u32(const std::array<std::uint8_t, 4>& bytes) {
  std::uint32_t v = 0;
  std::memcpy(&v, bytes.data(), sizeof(v));
  return v;
}

}  // namespace

Cookie make_cookie(const SipKey& key, const engine::Address& from, const std::array<std::uint8_t, 4>& connect_id,
                   TimePoint now, std::uint8_t variant) {
  AddressBytes message(from, true);
  message.append(connect_id);
  message.append_u32(static_cast<std::uint32_t>(now / kCookieBucketUs));
  message.append_u8(variant);
  message.append_u8(kCookieDomain);
  const std::uint64_t h = siphash24(key, message.bytes());
  Cookie c;
  c.sent_time = static_cast<std::uint16_t>(h);
  c.client_session = static_cast<std::uint8_t>((h >> 16) & 3);
  c.peer_id = static_cast<std::uint16_t>((h >> 32) % protocol::kMaxPeerId);
  return c;
}

HandshakeTable::HandshakeTable(std::size_t capacity, TimePoint lifetime, const SipKey& index_key)
    : capacity_(capacity < 1 ? 1 : capacity), lifetime_(lifetime), key_(index_key) {
  std::size_t buckets = 1;
  while (buckets < capacity_) buckets <<= 1;
  mask_ = static_cast<std::uint32_t>(buckets - 1);
  by_connect_.assign(buckets, kNone);
  by_id_.assign(buckets, kNone);
  // Grows with use: an idle server does not touch the memory of a full table.
  ring_.reserve(capacity_ < 4096 ? capacity_ : 4096);
}

std::uint32_t HandshakeTable::bucket(const engine::Address& from, std::uint8_t kind, std::uint32_t value) const {
  AddressBytes message(from, true);
  message.append_u32(value);
  message.append_u8(kind);
  return static_cast<std::uint32_t>(siphash24(key_, message.bytes())) & mask_;
}

std::uint32_t HandshakeTable::connect_key(const HalfOpen& e) { return as_u32(e.request.params.connect_id); }

HalfOpen* HandshakeTable::find_connect(TimePoint now, const engine::Address& from, std::uint32_t connect_id) {
  expire(now);
  for (std::uint32_t i = by_connect_[bucket(from, kConnectDomain, connect_id)]; i != kNone; i = ring_[i].next_by_connect) {
    HalfOpen& e = ring_[i];
    if (connect_key(e) == connect_id && e.address == from) return &e;
  }
  return nullptr;
}

HalfOpen* HandshakeTable::find_id(TimePoint now, const engine::Address& from, std::uint16_t peer_id) {
  expire(now);
  for (std::uint32_t i = by_id_[bucket(from, kIdDomain, peer_id)]; i != kNone; i = ring_[i].next_by_id) {
    HalfOpen& e = ring_[i];
    if (e.peer_id == peer_id && e.address == from) return &e;
  }
  return nullptr;
}

HalfOpen& HandshakeTable::insert(TimePoint now, const engine::Address& from, std::uint32_t connect_id,
                                 std::uint16_t peer_id) {
  expire(now);
  if (head_ - tail_ == capacity_) {  // full (entries and holes): the oldest goes
    const auto oldest = static_cast<std::uint32_t>(tail_ % capacity_);
    if (ring_[oldest].used) {
      unlink(oldest);
      evicted_ += 1;
    }
    tail_ += 1;
  }
  const auto index = static_cast<std::uint32_t>(head_ % capacity_);
  if (index == ring_.size()) ring_.emplace_back();
  head_ += 1;
  HalfOpen& e = ring_[index];
  e = HalfOpen{};
  e.address = from;
  e.request.params.connect_id = {};
  std::memcpy(e.request.params.connect_id.data(), &connect_id, sizeof(connect_id));
  e.peer_id = peer_id;
  e.created = now;
  e.used = true;
  e.bucket_by_connect = bucket(from, kConnectDomain, connect_id);
  e.bucket_by_id = bucket(from, kIdDomain, peer_id);
  e.next_by_connect = by_connect_[e.bucket_by_connect];
  by_connect_[e.bucket_by_connect] = index;
  e.next_by_id = by_id_[e.bucket_by_id];
  by_id_[e.bucket_by_id] = index;
  size_ += 1;
  return e;
}

void HandshakeTable::erase(HalfOpen& entry) {
  if (!entry.used) return;
  unlink(static_cast<std::uint32_t>(&entry - ring_.data()));
}

void HandshakeTable::unlink(std::uint32_t index) {
  HalfOpen& e = ring_[index];
  for (std::uint32_t* link = &by_connect_[e.bucket_by_connect]; *link != kNone; link = &ring_[*link].next_by_connect) {
    if (*link == index) {
      *link = e.next_by_connect;
      break;
    }
  }
  for (std::uint32_t* link = &by_id_[e.bucket_by_id]; *link != kNone; link = &ring_[*link].next_by_id) {
    if (*link == index) {
      *link = e.next_by_id;
      break;
    }
  }
  e.used = false;
  size_ -= 1;
}

void HandshakeTable::expire(TimePoint now) {
  while (tail_ != head_) {
    HalfOpen& e = ring_[tail_ % capacity_];
    if (e.used) {
      if (now - e.created < lifetime_) return;
      unlink(static_cast<std::uint32_t>(tail_ % capacity_));
      expired_ += 1;
    }
    tail_ += 1;
  }
}

}  // namespace volley::server
