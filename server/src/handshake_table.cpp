// HandshakeTable and the cookie. Chains are singly linked through the entries; unlinking walks
// one chain, which the keyed hash keeps at about one entry on average. The age list is doubly
// linked, so eviction, expiry and erase unlink in O(1); a chunk with room is the lowest set bit
// of `room_` (two words for the default 128 chunks).
#include "handshake_table.hpp"

#include <bit>
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
  chunk_entries_ = static_cast<std::uint32_t>(buckets < kChunkEntries ? buckets : kChunkEntries);
  chunk_shift_ = static_cast<std::uint32_t>(std::countr_zero(chunk_entries_));
  chunk_mask_ = chunk_entries_ - 1;
  const std::size_t chunks = (capacity_ + chunk_entries_ - 1) / chunk_entries_;
  chunks_.resize(chunks);
  room_.assign((chunks + 63) / 64, 0);
  for (std::size_t c = 0; c < chunks; ++c) room_[c / 64] |= std::uint64_t{1} << (c % 64);
}

std::uint32_t HandshakeTable::bucket(const engine::Address& from, std::uint8_t kind, std::uint32_t value) const {
  AddressBytes message(from, true);
  message.append_u32(value);
  message.append_u8(kind);
  return static_cast<std::uint32_t>(siphash24(key_, message.bytes())) & mask_;
}

std::uint32_t HandshakeTable::connect_key(const HalfOpen& e) { return as_u32(e.request.params.connect_id); }

std::uint32_t HandshakeTable::chunk_limit(std::size_t chunk) const noexcept {
  const std::size_t first = chunk * chunk_entries_;
  return static_cast<std::uint32_t>(capacity_ - first < chunk_entries_ ? capacity_ - first : chunk_entries_);
}

HalfOpen* HandshakeTable::find_connect(TimePoint now, const engine::Address& from, std::uint32_t connect_id) {
  expire(now);
  for (std::uint32_t i = by_connect_[bucket(from, kConnectDomain, connect_id)]; i != kNone; i = at(i).next_by_connect) {
    HalfOpen& e = at(i);
    if (connect_key(e) == connect_id && e.address == from) return &e;
  }
  return nullptr;
}

HalfOpen* HandshakeTable::find_id(TimePoint now, const engine::Address& from, std::uint16_t peer_id) {
  expire(now);
  for (std::uint32_t i = by_id_[bucket(from, kIdDomain, peer_id)]; i != kNone; i = at(i).next_by_id) {
    HalfOpen& e = at(i);
    if (e.peer_id == peer_id && e.address == from) return &e;
  }
  return nullptr;
}

// The lowest chunk with room, its most recently freed slot first: the slots in use stay packed
// at the bottom, so the pages they touch follow the number of entries in flight.
std::uint32_t HandshakeTable::take_slot() {
  std::size_t c = 0;
  for (std::size_t w = 0; w < room_.size(); ++w) {
    if (room_[w] != 0) {
      c = w * 64 + static_cast<std::size_t>(std::countr_zero(room_[w]));
      break;
    }
  }
  Chunk& chunk = chunks_[c];
  if (!chunk.entries) {
    if (spare_) {
      chunk.entries = std::move(spare_);
    } else {
      chunk.entries = std::unique_ptr<HalfOpen[]>(new HalfOpen[chunk_entries_]);
      chunks_allocated_ += 1;
    }
    chunk.fresh = 0;
    chunk.free_head = kNone;
    chunk.used = 0;
  }
  std::uint32_t offset;
  if (chunk.free_head != kNone) {
    offset = chunk.free_head;
    chunk.free_head = chunk.entries[offset].newer;
  } else {
    offset = chunk.fresh++;
  }
  chunk.used += 1;
  if (chunk.used == chunk_limit(c)) room_[c / 64] &= ~(std::uint64_t{1} << (c % 64));
  return static_cast<std::uint32_t>(c << chunk_shift_) | offset;
}

void HandshakeTable::free_slot(std::uint32_t index) {
  const std::size_t c = index >> chunk_shift_;
  Chunk& chunk = chunks_[c];
  HalfOpen& e = chunk.entries[index & chunk_mask_];
  e.used = false;
  e.newer = chunk.free_head;
  chunk.free_head = index & chunk_mask_;
  chunk.used -= 1;
  room_[c / 64] |= std::uint64_t{1} << (c % 64);
  if (chunk.used == 0 && c != 0) {
    // The first chunk stays (the table's baseline); an emptied one becomes the spare, and a
    // second one is freed.
    if (!spare_) {
      spare_ = std::move(chunk.entries);
    } else {
      chunk.entries.reset();
      chunks_allocated_ -= 1;
    }
  }
  if (size_ == 0 && spare_) {
    spare_.reset();
    chunks_allocated_ -= 1;
  }
}

HalfOpen& HandshakeTable::insert(TimePoint now, const engine::Address& from, std::uint32_t connect_id,
                                 std::uint16_t peer_id) {
  expire(now);
  if (size_ == capacity_) {  // full: the oldest goes
    unlink(oldest_);
    evicted_ += 1;
  }
  const std::uint32_t index = take_slot();
  HalfOpen& e = at(index);
  e = HalfOpen{};
  e.address = from;
  std::memcpy(e.request.params.connect_id.data(), &connect_id, sizeof(connect_id));
  e.peer_id = peer_id;
  e.created = now;
  e.used = true;
  e.slot = index;
  e.bucket_by_connect = bucket(from, kConnectDomain, connect_id);
  e.bucket_by_id = bucket(from, kIdDomain, peer_id);
  e.next_by_connect = by_connect_[e.bucket_by_connect];
  by_connect_[e.bucket_by_connect] = index;
  e.next_by_id = by_id_[e.bucket_by_id];
  by_id_[e.bucket_by_id] = index;
  // Newest at the end of the age list.
  e.older = newest_;
  e.newer = kNone;
  if (newest_ != kNone) at(newest_).newer = index;
  else oldest_ = index;
  newest_ = index;
  size_ += 1;
  return e;
}

void HandshakeTable::erase(HalfOpen& entry) {
  if (!entry.used) return;
  unlink(entry.slot);
}

void HandshakeTable::unlink(std::uint32_t index) {
  HalfOpen& e = at(index);
  for (std::uint32_t* link = &by_connect_[e.bucket_by_connect]; *link != kNone; link = &at(*link).next_by_connect) {
    if (*link == index) {
      *link = e.next_by_connect;
      break;
    }
  }
  for (std::uint32_t* link = &by_id_[e.bucket_by_id]; *link != kNone; link = &at(*link).next_by_id) {
    if (*link == index) {
      *link = e.next_by_id;
      break;
    }
  }
  if (e.older != kNone) at(e.older).newer = e.newer;
  else oldest_ = e.newer;
  if (e.newer != kNone) at(e.newer).older = e.older;
  else newest_ = e.older;
  size_ -= 1;
  free_slot(index);
}

std::optional<TimePoint> HandshakeTable::newest_created() const noexcept {
  if (newest_ == kNone) return std::nullopt;
  return at(newest_).created;
}

void HandshakeTable::expire(TimePoint now) {
  while (oldest_ != kNone && now - at(oldest_).created >= lifetime_) {
    unlink(oldest_);
    expired_ += 1;
  }
}

}  // namespace volley::server
