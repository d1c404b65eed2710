// Per-channel receive ordering and delivery: the reliable window and in-order dispatch, the
// unreliable-sequenced epochs, and the unsequenced duplicate window. Mirrors peer.c
// enet_peer_queue_incoming_command, enet_peer_dispatch_incoming_reliable_commands and
// enet_peer_dispatch_incoming_unreliable_commands, and protocol.c enet_protocol_handle_send_*
// (enet-protocol.md 4.2, 4.4, 4.5, 4.6). Two deliberate differences: unsequenced packets are
// delivered at once instead of possibly behind waiting unreliable ones (allowed by 4.6), and
// bytes of discarded queued packets are returned to the waiting-data budget (1.3.17 leaks them).
#include <algorithm>
#include <optional>
#include <utility>

#include "peer_impl.hpp"
#include "seq.hpp"

namespace volley::protocol {

using detail::IncomingCommand;

namespace {

Delivery delivery_for(CommandType type) {
  switch (type) {
    case CommandType::kSendUnreliable: return Delivery::kUnreliable;
    case CommandType::kSendUnsequenced: return Delivery::kUnsequenced;
    case CommandType::kSendUnreliableFragment: return Delivery::kUnreliableFragment;
    default: return Delivery::kReliable;
  }
}

}  // namespace

namespace detail {

// Where a command goes in a channel's receive queue, ordered by distance ahead of `current`
// (then by USN for unreliable ones); nullopt for a duplicate of a queued command.
std::optional<std::list<IncomingCommand>::iterator> insert_position(std::list<IncomingCommand>& list,
                                                                    std::uint16_t r, std::uint16_t current,
                                                                    bool reliable, std::uint16_t usn) {
  const std::uint16_t key = ahead_of(r, current);
  for (auto it = list.begin(); it != list.end(); ++it) {
    const std::uint16_t other = ahead_of(it->reliable_sequence, current);
    if (other == key && (reliable || it->unreliable_sequence == usn)) return std::nullopt;
    if (other > key || (!reliable && other == key && it->unreliable_sequence > usn)) return it;
  }
  return list.end();
}

}  // namespace detail

// Both failures stop the datagram, as in libenet; the state is tested first so that data still
// arriving after a local disconnect (channels already released) is counted as wrong-state.
bool Peer::Impl::data_state_ok(const Command& command) {
  if (state != PeerState::kConnected && state != PeerState::kDisconnectLater) {
    counters.add(Counter::kDropWrongState);
    return false;
  }
  if (command.header.channel >= channels.size()) {
    counters.add(Counter::kDropBadChannel);
    return false;
  }
  return true;
}

void Peer::Impl::deliver(std::uint8_t channel_id, IncomingCommand&& command) {
  PeerEvent event;
  event.type = PeerEvent::Type::kReceive;
  event.channel = channel_id;
  event.delivery = delivery_for(command.type);
  event.payload = std::move(command.data);
  counters.add(Counter::kPacketsIn);
  counters.add(Counter::kPayloadBytesIn, event.payload.size());
  events.push_back(std::move(event));
}

Handled Peer::Impl::queue_incoming(const CommandHeader& header, CommandType type,
                                   std::uint16_t unreliable_sequence, Bytes payload,
                                   std::uint32_t total_length, std::uint32_t fragment_count,
                                   IncomingCommand** queued) {
  *queued = nullptr;
  // A fragment that cannot be queued is an error (no ack); anything else is just discarded.
  auto discard = [&](Counter reason) {
    counters.add(reason);
    if (fragment_count > 0) return Handled::kStop;
    return Handled::kOk;
  };
  if (state == PeerState::kDisconnectLater) return discard(Counter::kDropDisconnectLater);
  detail::Channel& channel = channels[header.channel];
  const std::uint16_t current = channel.incoming_reliable_sequence;
  const std::uint16_t r = header.reliable_sequence;
  if (!detail::in_receive_window(r, current)) return discard(Counter::kDropOutsideWindow);

  const bool reliable = type == CommandType::kSendReliable || type == CommandType::kSendFragment;
  auto& list = reliable ? channel.incoming_reliable : channel.incoming_unreliable;
  if (reliable && r == current) return discard(Counter::kDropDuplicate);
  if (!reliable && r == current && unreliable_sequence <= channel.incoming_unreliable_sequence)
    return discard(Counter::kDropStaleUnreliable);
  const auto position = detail::insert_position(list, r, current, reliable, unreliable_sequence);
  if (!position) return discard(Counter::kDropDuplicate);
  const std::size_t length = fragment_count > 0 ? total_length : payload.size();
  if (total_waiting_data + length > config.max_waiting_data) {
    counters.add(Counter::kDropWaitingDataLimit);
    return Handled::kStop;
  }
  if (fragment_count == 0 && reliable && list.empty() && r == static_cast<std::uint16_t>(current + 1)) {
    // The next reliable packet with nothing queued: insert + dispatch_reliable() would deliver
    // it at once. Do exactly that here without the list node (the common in-order case).
    total_waiting_data += length;
    channel.incoming_reliable_sequence = r;
    IncomingCommand command;
    command.type = type;
    command.reliable_sequence = r;
    command.data.assign(payload.begin(), payload.end());
    deliver(header.channel, std::move(command));
    channel.incoming_unreliable_sequence = 0;  // as dispatch_reliable: a new unreliable epoch
    if (!channel.incoming_unreliable.empty()) dispatch_unreliable(header.channel);
    return Handled::kOk;
  }
  IncomingCommand command;
  command.type = type;
  command.reliable_sequence = r;
  command.unreliable_sequence = unreliable_sequence;
  command.fragment_count = fragment_count;
  command.fragments_remaining = fragment_count;
  if (fragment_count > 0) {
    command.fragment_bits.assign((fragment_count + 31) / 32, 0);
    command.data.assign(total_length, 0);  // zero-filled: never deliver uninitialised bytes
  } else {
    command.data.assign(payload.begin(), payload.end());
  }
  total_waiting_data += length;
  auto inserted = list.insert(*position, std::move(command));
  *queued = &*inserted;
  if (fragment_count == 0) {
    if (reliable) dispatch_reliable(header.channel);
    else dispatch_unreliable(header.channel);
  }
  return Handled::kOk;
}

void Peer::Impl::dispatch_reliable(std::uint8_t channel_id) {
  detail::Channel& channel = channels[channel_id];
  bool delivered = false;
  while (!channel.incoming_reliable.empty()) {
    IncomingCommand& head = channel.incoming_reliable.front();
    if (head.fragments_remaining > 0 ||
        head.reliable_sequence != static_cast<std::uint16_t>(channel.incoming_reliable_sequence + 1))
      break;
    channel.incoming_reliable_sequence = head.reliable_sequence;
    if (head.fragment_count > 0)
      channel.incoming_reliable_sequence =
          static_cast<std::uint16_t>(channel.incoming_reliable_sequence + head.fragment_count - 1);
    deliver(channel_id, std::move(head));
    channel.incoming_reliable.pop_front();
    delivered = true;
  }
  if (!delivered) return;
  // A reliable delivery opens a new epoch for unreliable packets sent after it.
  channel.incoming_unreliable_sequence = 0;
  if (!channel.incoming_unreliable.empty()) dispatch_unreliable(channel_id);
}

// Delivers the complete unreliable packets of the current epoch in USN order; drops packets of
// past epochs and incomplete fragment sets overtaken by a newer delivery; keeps future epochs.
void Peer::Impl::dispatch_unreliable(std::uint8_t channel_id) {
  detail::Channel& channel = channels[channel_id];
  auto& list = channel.incoming_unreliable;
  auto drop = [&](std::list<IncomingCommand>::iterator it) {
    total_waiting_data -= std::min(total_waiting_data, it->data.size());
    counters.add(Counter::kDropAbandonedUnreliable);
    return list.erase(it);
  };
  auto it = list.begin();
  auto first_incomplete = list.end();
  while (it != list.end()) {
    const std::uint16_t current = channel.incoming_reliable_sequence;
    if (it->reliable_sequence == current) {
      if (it->fragments_remaining > 0) {
        if (first_incomplete == list.end()) first_incomplete = it;
        ++it;
        continue;
      }
      while (first_incomplete != list.end() && first_incomplete != it) first_incomplete = drop(first_incomplete);
      first_incomplete = list.end();
      channel.incoming_unreliable_sequence = it->unreliable_sequence;
      deliver(channel_id, std::move(*it));
      it = list.erase(it);
      continue;
    }
    if (detail::in_receive_window(it->reliable_sequence, current)) break;  // a future epoch
    it = drop(it);
  }
}

Handled Peer::Impl::handle_send_reliable(const Command& command) {
  if (!data_state_ok(command)) return Handled::kStop;
  const auto& body = std::get<SendReliable>(command.body);
  IncomingCommand* queued = nullptr;
  return queue_incoming(command.header, CommandType::kSendReliable, 0, body.payload, 0, 0, &queued);
}

Handled Peer::Impl::handle_send_unreliable(const Command& command) {
  if (!data_state_ok(command)) return Handled::kStop;
  const auto& body = std::get<SendUnreliable>(command.body);
  IncomingCommand* queued = nullptr;
  return queue_incoming(command.header, CommandType::kSendUnreliable, body.unreliable_sequence,
                        body.payload, 0, 0, &queued);
}

// enet_protocol_handle_send_unsequenced: a 1024-group bitmap whose base moves forward by whole
// blocks; groups more than 32 blocks ahead (i.e. behind, after wrap) are dropped.
Handled Peer::Impl::handle_send_unsequenced(const Command& command) {
  if (!data_state_ok(command)) return Handled::kStop;
  const auto& body = std::get<SendUnsequenced>(command.body);
  std::uint32_t group = body.unsequenced_group;
  const std::uint32_t index = group % detail::kUnsequencedWindowSize;
  if (group < incoming_unsequenced_group) group += 0x10000;
  if (group >= std::uint32_t{incoming_unsequenced_group} +
                   detail::kFreeUnsequencedWindows * detail::kUnsequencedWindowSize) {
    counters.add(Counter::kDropUnsequencedOld);
    return Handled::kOk;
  }
  group &= 0xFFFF;
  if (!unsequenced_window) unsequenced_window = std::make_unique<detail::UnsequencedWindow>();
  auto& window = *unsequenced_window;  // value-initialised: all zero, as after a reset
  auto& word = window[index / 32];
  const std::uint32_t bit = 1u << (index % 32);
  if (group - index != incoming_unsequenced_group) {
    incoming_unsequenced_group = static_cast<std::uint16_t>(group - index);
    window = {};
  } else if (word & bit) {
    counters.add(Counter::kDropUnsequencedDuplicate);
    return Handled::kOk;
  }
  if (state == PeerState::kDisconnectLater) {
    counters.add(Counter::kDropDisconnectLater);
  } else {
    if (total_waiting_data + body.payload.size() > config.max_waiting_data) {
      counters.add(Counter::kDropWaitingDataLimit);
      return Handled::kStop;
    }
    IncomingCommand packet;
    packet.type = CommandType::kSendUnsequenced;
    packet.data.assign(body.payload.begin(), body.payload.end());
    total_waiting_data += packet.data.size();
    deliver(command.header.channel, std::move(packet));
  }
  word |= bit;
  return Handled::kOk;
}

}  // namespace volley::protocol
