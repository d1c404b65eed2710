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

namespace volley::protocol::detail {

struct ReceiveContext {
  Counters& counters;
  Fifo<PeerEvent>& events;     // deliveries are appended here
  std::size_t& waiting_data;   // payload bytes queued or delivered but not yet polled, per peer
  std::size_t max_waiting_data;
  FragmentLimits fragment_limits;
  std::uint8_t channel_id = 0;
  bool discard = false;  // DISCONNECT_LATER: data is acknowledged but thrown away
};

// Appends one receive event and counts it. The payload is moved, never copied; it comes from
// the buffer pool, and a consumer may give it back there (recycle_payload()).
void deliver(ReceiveContext& ctx, CommandType type, std::vector<std::uint8_t>&& payload);

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
