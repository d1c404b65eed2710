// The sans-IO server Host: a batch of datagrams in, each routed by (source address, 12-bit peer
// id) to its slot's Peer (which checks session, CRC and the rest), events out through HostEvents,
// and every datagram produced while handling the batch (acknowledgements included) emitted to
// the sink once at the end. Only peers touched by the batch, a timer, or an API call are
// serviced; per-peer deadlines live in a TimerPort via Deadlines. No clock, no socket: time is
// a parameter, so tests drive thousands of peers on a virtual clock.
#pragma once

#include <cstddef>
#include <cstdint>
#include <optional>
#include <span>
#include <vector>

#include "deadlines.hpp"
#include "handshake_table.hpp"
#include "peer_slots.hpp"
#include "outbox.hpp"
#include "reply_limiter.hpp"
#include "siphash.hpp"
#include "stats.hpp"
#include "volley/engine/udp.hpp"
#include "volley/protocol/peer.hpp"
#include "volley/vocabulary/delivery.hpp"
#include "volley/vocabulary/handle.hpp"

namespace volley::server {

using volley::PeerHandle;
using volley::RefusalCode;
using volley::SendResult;

// The stateless handshake (docs/handshake.md). The defaults let a real client through while
// 100,000 forged CONNECTs per second arrive: at that rate an entry lives 1.3 s before eviction,
// enough for the VERIFY, a 100 ms round trip and one lost ACK (the client's PING is resent after
// 500 ms), at about 120 bytes per entry (16 MiB when full).
struct HandshakeConfig {
  std::size_t half_open_entries = 131072;
  TimePoint entry_lifetime = 20 * volley::kSecond;  // also lazily expired
  // Replies before proof: at most 200,000/s in all (about 10 MB/s of VERIFY_CONNECTs), and per
  // client IP 32/s with bursts of 64 (a NAT full of clients starting at once).
  RateLimit replies{200000, 20000};
  RateLimit replies_per_ip{32, 64};
  std::size_t reply_buckets = 65536;  // per-IP budgets, shared through a keyed hash of the IP
};

struct HostConfig {
  protocol::PeerConfig peer = protocol::PeerConfig::server_defaults();
  std::size_t max_peers = 4096;
  std::size_t per_ip_cap = 0;  // live peers per client IP, every port; 0 = no cap (Config: 32)
  // Undelivered received bytes of all peers together (each peer also has peer.max_waiting_data):
  // beyond it, data is refused unacked and counted as drop_waiting_total_limit.
  std::size_t max_waiting_total = 256u * 1024 * 1024;
  bool fast_refusal = true;    // answer a refused CONNECT at once (enet-protocol.md 3.5)
  HandshakeConfig handshake;
  // The secret of the cookies and of the handshake's hash indexes. The Server draws it from the
  // OS random source (and rotates the cookie key with set_cookie_key()); tests pass fixed keys.
  SipKey handshake_key{};
};

class HostEvents {
 public:
  virtual ~HostEvents() = default;
  virtual void on_connect(PeerHandle peer, std::uint32_t data) = 0;
  // event.bytes() is valid only during the call: it may view the receive batch's own buffer.
  virtual void on_receive(PeerHandle peer, const protocol::PeerEvent& event) = 0;
  virtual void on_disconnect(PeerHandle peer, protocol::DisconnectReason reason,
                             std::uint32_t data) = 0;
};

enum class DisconnectMode : std::uint8_t { kNormal, kLater, kNow };

class Host {
 public:
  Host(const HostConfig& config, TimerPort& timers, DatagramSink sink, HostEvents* events);
  Host(const Host&) = delete;  // peers point at waiting_total_
  Host& operator=(const Host&) = delete;

  // One receive batch: route everything, then service the touched peers and emit once.
  void on_datagrams(TimePoint now, std::span<const engine::DatagramView> batch);
  // The TimerPort's timer for `slot` fired (the port forgets it first).
  void on_timer(TimePoint now, std::uint32_t slot);
  // Services peers touched by API calls outside a batch and emits their datagrams.
  void flush(TimePoint now);
  // Whether flush() has anything to do (inline: the Server asks after every loop entry).
  bool flush_pending() const noexcept { return touched_size_ != 0 || outbox_.size() != 0; }

  SendResult send(PeerHandle peer, std::uint8_t channel, Bytes payload,
                           protocol::PacketFlags flags);
  // To every connected peer; returns how many accepted it.
  std::size_t broadcast(std::uint8_t channel, Bytes payload, protocol::PacketFlags flags);
  bool disconnect(PeerHandle peer, std::uint32_t data, DisconnectMode mode);
  // Shutdown: every live peer disconnect_later (its queued packets first; one already
  // disconnecting keeps its course). Walks the table once, by design.
  void disconnect_all(std::uint32_t data);
  // While false, new CONNECTs are refused (shutdown).
  void set_accepting(bool accepting) noexcept { accepting_ = accepting; }
  // Key rotation: new half-open entries get cookies under `key`. Entries keep the cookie they
  // were issued, so handshakes in flight under the previous key still complete.
  void set_cookie_key(const SipKey& key) noexcept { cookie_key_ = key; }
  std::size_t half_open() const noexcept { return half_open_.size(); }
  // When the newest half-open entry was created: its client may already count itself connected.
  std::optional<TimePoint> newest_half_open() const noexcept { return half_open_.newest_created(); }
  // The half-open entries' memory now: it follows the entries in flight (HandshakeTable).
  std::size_t half_open_bytes() const noexcept { return half_open_.entry_bytes(); }
  // Undelivered received bytes of every peer together (HostConfig::max_waiting_total).
  std::size_t waiting_total() const noexcept { return waiting_total_.used; }

  const protocol::Peer* peer(PeerHandle handle) const;
  const engine::Address* address(PeerHandle handle) const;
  // The peer counter totals are summed here, over every pooled Peer: O(slots) per call, so for
  // stats reports (about once a second), not per batch.
  const HostStats& stats() const noexcept;
  // Every connected peer, for the gauges of Server::stats() (asked for, never per batch).
  template <class Fn>
  void for_each_connected(Fn&& fn) const {
    for (const std::uint32_t index : slots_.connected()) fn(*slots_[index].peer);
  }
  const DeadlineOps& deadline_ops() const noexcept { return deadlines_.ops(); }
  std::size_t live_peers() const noexcept { return slots_.live(); }
  std::size_t connected_peers() const noexcept { return slots_.connected().size(); }
  std::size_t max_peers() const noexcept { return slots_.capacity(); }

 private:
  Slot* resolve(PeerHandle handle);
  void route(TimePoint now, const engine::DatagramView& datagram);
  // `key` is `from` packed (PackedAddress::of), computed once per datagram by route().
  void route_connect(TimePoint now, const engine::Address& from, const PackedAddress& key, Bytes bytes);
  // A datagram for (from, id) that no live peer holds: the handshake's proof, or nothing.
  bool route_half_open(TimePoint now, const engine::Address& from, const protocol::Header& header, Bytes bytes);
  std::optional<std::uint16_t> pick_id(TimePoint now, const engine::Address& from, const PackedAddress& key,
                                       std::uint16_t wanted);
  // Sends `command` to the entry's client (its session, the cookie as sent time) if the reply
  // budget and the size rule allow: never more bytes than `request_bytes`, the datagram that
  // asked for it. False when nothing was sent.
  bool reply(TimePoint now, HalfOpen& entry, const protocol::Command& command, std::size_t request_bytes,
             bool limit_checked = false, bool count_too_large = true);
  protocol::ConnectParams verify_params(const HalfOpen& entry) const;
  protocol::Command verify_command(const HalfOpen& entry) const;
  static protocol::Command probe_command();
  static protocol::Command refusal_command(RefusalCode code);
  // Takes one reply from the budgets; true (and counted) when either is exhausted.
  bool limited(TimePoint now, const engine::Address& to);
  void refuse(TimePoint now, const protocol::ConnectRequest& request, const engine::Address& to,
              RefusalCode code);
  void touch(std::uint32_t slot) { touch(slot, slots_[slot]); }
  // With the slot already at hand (the routing and send paths): no second lookup.
  void touch(std::uint32_t slot, Slot& s) {
    if (s.touched) return;
    s.touched = true;
    if (touched_size_ == touched_.size()) grow_touched();
    touched_[touched_size_++] = slot;
  }
  void grow_touched();
  void service_touched(TimePoint now);
  void service(TimePoint now, std::uint32_t slot);
  // Inline: the service pass asks twice per peer, and mostly the queue is empty.
  void drain_events(std::uint32_t slot, Slot& s) {
    if (s.peer->has_events()) take_events(slot, s);
  }
  void take_events(std::uint32_t slot, Slot& s);
  void emit();
  // The table-size gauges of HostStats, read from the tables when stats() is asked, not per batch.
  void refresh_table_sizes() const noexcept;

  HostConfig config_;
  protocol::SharedBudget waiting_total_;  // before slots_: outlives every Peer that uses it
  PeerSlots slots_;
  Deadlines deadlines_;
  DatagramSink sink_;
  HostEvents* events_;
  Outbox outbox_;
  mutable HostStats stats_;  // mutable: stats() refreshes the peer totals when asked
  // The slots touched and not yet serviced in this pass, each once (Slot::touched), in
  // touched_[0, touched_size_). A slot serviced earlier in the pass comes back when a later
  // peer's callback sends to it, so the list may outgrow the slot count; it grows out of line
  // (grow_touched), and a touch is otherwise one store: vector::push_back stayed an out-of-line
  // call per routed datagram (callgrind).
  std::vector<std::uint32_t> touched_ = std::vector<std::uint32_t>(1024);
  protocol::PeerEvent direct_;  // a packet route() hands on as it reads it (Peer::on_datagram_direct)
  std::size_t touched_size_ = 0;
  bool accepting_ = true;
  HandshakeTable half_open_;
  ReplyLimiter limiter_;
  SipKey cookie_key_;
};

}  // namespace volley::server
