// One channel's receive side: the reliable window and in-order dispatch, the unreliable-
// sequenced epochs, and the reassembly buffers of fragmented packets. Mirrors peer.c
// enet_peer_queue_incoming_command, enet_peer_dispatch_incoming_reliable_commands and
// _unreliable_commands, and protocol.c enet_protocol_handle_send_* (enet-protocol.md 4.2, 4.4,
// 4.5). The channel owns its ordering state; what it shares with the rest of the peer (event
// queue, waiting-data budget, counters) is lent per call in a ReceiveContext.
#pragma once

#include <cstddef>
#include <cstdint>
#include <list>

#include "buffer_pool.hpp"
#include "fifo.hpp"
#include "fragment_assembly.hpp"
#include "incoming_command.hpp"
#include "volley/protocol/counters.hpp"
#include "volley/protocol/peer.hpp"
#include "volley/protocol/peer_config.hpp"

namespace volley::protocol::detail {

// What one peer's received data may occupy before the application takes it: payload bytes
// (queued, or delivered but not yet polled) against the peer's limit and, through `shared`,
// against a total over many peers; and commands held out of order, every channel together.
class ReceiveBudget {
 public:
  std::size_t bytes() const noexcept { return bytes_; }
  std::size_t held() const noexcept { return held_; }
  void set_limits(std::size_t max_bytes, std::size_t max_held, SharedBudget* shared) noexcept {
    max_bytes_ = max_bytes;
    max_held_ = max_held;
    shared_ = shared;
  }
  // Takes `n` bytes, or counts the limit that refused them and takes nothing.
  bool take(std::size_t n, Counters& counters) noexcept;
  void give_back(std::size_t n) noexcept;
  // After a reset: the bytes still owed to undelivered events.
  void reset_to(std::size_t n) noexcept;
  // One more command held, or the limit counted and false. `next` (the command that fills the
  // gap, or one delivered at once) is always taken: refusing it would keep the gap open.
  bool hold(Counters& counters, bool next) noexcept;
  void release_held(std::size_t n = 1) noexcept { held_ -= n < held_ ? n : held_; }
  void clear_held() noexcept { held_ = 0; }

 private:
  std::size_t bytes_ = 0;
  std::size_t held_ = 0;
  std::size_t max_bytes_ = static_cast<std::size_t>(-1);
  std::size_t max_held_ = static_cast<std::size_t>(-1);
  SharedBudget* shared_ = nullptr;
};

struct ReceiveContext {
  Counters& counters;
  Fifo<PeerEvent>& events;  // deliveries are appended here
  ReceiveBudget& budget;
  FragmentLimits fragment_limits;
  std::uint8_t channel_id = 0;
  bool discard = false;  // DISCONNECT_LATER: data is acknowledged but thrown away
  bool borrow = false;   // payloads may be viewed in the datagram (DatagramLifetime::kUntilDrained)
  // Set by a caller that hands a packet on at once (Peer::on_datagram_direct): the first packet
  // delivered at once with no event queued ahead of it is written here instead of queued, and
  // the pointer cleared.
  PeerEvent* direct = nullptr;
};

// Appends one receive event and counts it. The payload is moved, never copied; it comes from
// the buffer pool, and a consumer may give it back there (recycle_payload()).
void deliver(ReceiveContext& ctx, CommandType type, std::vector<std::uint8_t>&& payload);
// A packet delivered straight from the datagram being handled: viewed there when the context
// allows it (PeerEvent::borrowed), else copied into a pooled buffer.
void deliver_now(ReceiveContext& ctx, CommandType type, Bytes payload);

class ReceiveChannel {
 public:
  // SEND_RELIABLE (unreliable_sequence 0) or SEND_UNRELIABLE.
  Handled receive(ReceiveContext& ctx, CommandType type, std::uint16_t reliable_sequence,
                  std::uint16_t unreliable_sequence, Bytes payload);
  // SEND_FRAGMENT or SEND_UNRELIABLE_FRAGMENT carrying `f`.
  Handled receive_fragment(ReceiveContext& ctx, CommandType type, std::uint16_t reliable_sequence,
                           const SendFragment& f);

  // Too far ahead to acknowledge (window distance 7-8): the sender retries later.
  bool ack_withheld(std::uint16_t reliable_sequence) const noexcept;

  std::uint16_t incoming_reliable_sequence() const noexcept { return reliable_sequence_; }
  std::uint16_t incoming_unreliable_sequence() const noexcept { return unreliable_sequence_; }
  std::size_t held() const noexcept { return reliable_.size() + unreliable_.size(); }
  // Drops what is held; the caller resets the budget (the peer clears every channel at once).
  void clear() noexcept;

 private:
  using List = std::list<IncomingCommand>;
  using Nodes = NodePool<IncomingCommand>;
  List::iterator erase(List& list, List::iterator it) { return Nodes::erase(list, it, reset_incoming); }

  // nullptr + kOk = discarded (acked); nullptr + kStop = error. Fragments pass the total length.
  Handled queue(ReceiveContext& ctx, CommandType type, std::uint16_t r, std::uint16_t usn, Bytes payload,
                std::uint32_t total_length, std::uint32_t fragment_count, IncomingCommand** queued);
  void dispatch_reliable(ReceiveContext& ctx);
  void dispatch_unreliable(ReceiveContext& ctx);

  std::uint16_t reliable_sequence_ = 0;    // last delivered reliable sequence
  std::uint16_t unreliable_sequence_ = 0;  // last delivered USN in the current epoch
  List reliable_;
  List unreliable_;
};

}  // namespace volley::protocol::detail
