// The half-open table of the server's stateless handshake (docs/handshake.md). A CONNECT gets
// only a HalfOpen entry here, no Peer, no buffers and no timer: what the CONNECT asked for, the
// id and session ids we assigned, the cookie our reply carried and when we sent it. The entries
// sit in a ring in creation order, so when the table is full the oldest is evicted, and expiry is
// lazy (the oldest entries are dropped when a lookup or insert passes them). Two chained hash
// indexes, keyed with a secret so a spoofer cannot pile entries into one chain, find an entry by
// (address, connectID) for a retransmitted CONNECT and by (address, peer id) for the client's
// next datagram. Memory is bounded by the capacity; nothing is allocated per entry.
#pragma once

#include <cstddef>
#include <cstdint>
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
  // Chain links and bucket numbers of the two indexes.
  std::uint32_t next_by_connect = 0;
  std::uint32_t next_by_id = 0;
  std::uint32_t bucket_by_connect = 0;
  std::uint32_t bucket_by_id = 0;
};

class HandshakeTable {
 public:
  HandshakeTable(std::size_t capacity, TimePoint lifetime, const SipKey& index_key);

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

 private:
  static constexpr std::uint32_t kNone = 0xFFFFFFFFu;
  std::uint32_t bucket(const engine::Address& from, std::uint8_t kind, std::uint32_t value) const;
  static std::uint32_t connect_key(const HalfOpen& e);
  void expire(TimePoint now);
  void unlink(std::uint32_t index);

  std::size_t capacity_;
  TimePoint lifetime_;
  SipKey key_;
  std::vector<HalfOpen> ring_;  // grows to capacity_, then reused in place
  std::uint64_t head_ = 0;      // ring position of the next insert
  std::uint64_t tail_ = 0;      // ring position of the oldest entry (or hole)
  std::size_t size_ = 0;
  std::uint32_t mask_ = 0;
  std::vector<std::uint32_t> by_connect_;
  std::vector<std::uint32_t> by_id_;
  std::uint64_t evicted_ = 0;
  std::uint64_t expired_ = 0;
};

}  // namespace volley::server
