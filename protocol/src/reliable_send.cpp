// Sending: command choice and fragmentation (peer.c enet_peer_send), numbering through the
// SendWindow, and the timeout service (protocol.c enet_protocol_check_timeouts) whose verdict
// the window gives and whose consequences (counters, disconnect) are the peer's.
#include <algorithm>
#include <utility>

#include "peer_impl.hpp"

namespace volley::protocol {

using detail::OutgoingCommand;

namespace {

constexpr std::size_t kSendFragmentSize = 24;  // command_size(kSendFragment)

}  // namespace

SendResult Peer::Impl::send(std::uint8_t channel_id, Bytes payload, PacketFlags flags) {
  if (state != PeerState::kConnected) return SendResult::kNotConnected;
  if (channel_id >= channels.size()) return SendResult::kBadChannel;
  if (payload.size() > config.max_packet_size) return SendResult::kTooLarge;
  if (send_window.queued_bytes() + payload.size() + kQueuedCommandCost > config.max_queued_data) {
    counters.add(Counter::kDropSendQueueFull);
    return SendResult::kQueueFull;
  }
  const detail::SendChannel& channel = channels[channel_id].send;
  // libenet sizes fragments from its 4-byte header and the fragment command, minus the CRC.
  const std::size_t fragment_size =
      mtu - 4 - kSendFragmentSize - (config.checksum ? kChecksumSize : 0);
  // One pooled copy of the caller's bytes, shared by the command(s) that carry it.
  detail::SharedPayload packet = detail::SharedPayload::copy_of(payload);
  const Bytes stored = packet.bytes();
  counters.add(Counter::kPacketsOut);
  counters.add(Counter::kPayloadBytesOut, payload.size());

  if (payload.size() > fragment_size) {
    const std::size_t count = (payload.size() + fragment_size - 1) / fragment_size;
    if (count > kMaxFragmentCount) return SendResult::kTooManyFragments;
    const bool unreliable =
        (static_cast<std::uint8_t>(flags) & 0x9) == static_cast<std::uint8_t>(PacketFlags::kUnreliableFragment) &&
        channel.outgoing_unreliable_sequence < 0xFFFF;
    const std::uint16_t start = static_cast<std::uint16_t>(
        (unreliable ? channel.outgoing_unreliable_sequence : channel.outgoing_reliable_sequence) + 1);
    for (std::size_t number = 0, offset = 0; offset < payload.size(); ++number, offset += fragment_size) {
      const std::size_t length = std::min(fragment_size, payload.size() - offset);
      OutgoingCommand fragment;
      fragment.header.type = unreliable ? CommandType::kSendUnreliableFragment : CommandType::kSendFragment;
      fragment.header.acknowledge = !unreliable;
      fragment.header.channel = channel_id;
      fragment.packet = packet;
      fragment.fragment_offset = static_cast<std::uint32_t>(offset);
      fragment.fragment_length = static_cast<std::uint16_t>(length);
      fragment.body = SendFragment{start, static_cast<std::uint32_t>(count),
                                   static_cast<std::uint32_t>(number),
                                   static_cast<std::uint32_t>(payload.size()),
                                   static_cast<std::uint32_t>(offset),
                                   stored.subspan(offset, length)};
      queue_outgoing(std::move(fragment));
    }
    return SendResult::kOk;
  }

  // Built in its send-window node: one packet, one command, no temporary.
  send_window.queue_built(&channels[channel_id].send, [&](OutgoingCommand& command) {
    command.header.channel = channel_id;
    command.packet = std::move(packet);  // `stored` stays valid: the command now holds the block
    command.fragment_length = static_cast<std::uint16_t>(payload.size());
    const Bytes bytes = stored;
    if ((static_cast<std::uint8_t>(flags) & 0x3) == static_cast<std::uint8_t>(PacketFlags::kUnsequenced)) {
      command.header.type = CommandType::kSendUnsequenced;
      command.header.unsequenced = true;
      command.body = SendUnsequenced{0, bytes};
    } else if (has_flag(flags, PacketFlags::kReliable) || channel.outgoing_unreliable_sequence >= 0xFFFF) {
      // A USN must never wrap: at 0xFFFF the packet goes reliably, which resets the USN.
      command.header.type = CommandType::kSendReliable;
      command.header.acknowledge = true;
      command.body = SendReliable{bytes};
    } else {
      command.header.type = CommandType::kSendUnreliable;
      command.body = SendUnreliable{0, bytes};
    }
  });
  flush_pending = true;
  return SendResult::kOk;
}

void Peer::Impl::queue_outgoing(OutgoingCommand&& command) {
  const std::uint8_t channel = command.header.channel;
  send_window.queue(std::move(command), channel == kPeerLevelChannel ? nullptr : &channels[channel].send);
  flush_pending = true;
}

void Peer::Impl::queue_protocol_command(CommandType type, bool acknowledge, bool unsequenced,
                                        CommandBody body) {
  OutgoingCommand command;
  command.header.type = type;
  command.header.acknowledge = acknowledge;
  command.header.unsequenced = unsequenced;
  command.header.channel = kPeerLevelChannel;
  command.body = std::move(body);
  queue_outgoing(std::move(command));
}

// Returns true when the peer gave up (state already changed).
bool Peer::Impl::check_timeouts(TimePoint now) {
  const auto result = send_window.check_timeouts(now, timeouts);
  packet_loss.on_lost(result.retransmits);
  counters.add(Counter::kRetransmits, result.retransmits);
  if (result.timed_out) notify_disconnect(DisconnectReason::kTimeout, "timeout");
  return result.timed_out;
}

void Peer::Impl::run_timers(TimePoint now) {
  if (now > last_now) last_now = now;
  if (is_live() && send_window.timeout_due(now)) check_timeouts(now);
}

}  // namespace volley::protocol
