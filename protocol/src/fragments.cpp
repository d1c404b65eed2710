// Sending (command choice and fragmentation, peer.c enet_peer_send) and fragment reassembly
// (protocol.c enet_protocol_handle_send_fragment / _send_unreliable_fragment), with bounded
// memory: fragment count, total length and the per-peer waiting-data budget are checked before
// anything is allocated (enet-protocol.md 4.1 and 8). Beyond 1.3.17 we also reject empty
// fragments and totalLength < fragmentCount, as upstream does after 1.3.18.
#include <algorithm>
#include <cstring>
#include <memory>

#include "peer_impl.hpp"
#include "seq.hpp"

namespace volley::protocol {

using detail::IncomingCommand;
using detail::OutgoingCommand;

namespace {

constexpr std::size_t kSendFragmentSize = 24;  // command_size(kSendFragment)

}  // namespace

SendResult Peer::Impl::send(std::uint8_t channel_id, Bytes payload, PacketFlags flags) {
  if (state != PeerState::kConnected) return SendResult::kNotConnected;
  if (channel_id >= channels.size()) return SendResult::kBadChannel;
  if (payload.size() > config.max_packet_size) return SendResult::kTooLarge;
  detail::Channel& channel = channels[channel_id];
  // libenet sizes fragments from its 4-byte header and the fragment command, minus the CRC.
  const std::size_t fragment_size =
      mtu - 4 - kSendFragmentSize - (config.checksum ? kChecksumSize : 0);
  auto packet = std::make_shared<const std::vector<std::uint8_t>>(payload.begin(), payload.end());
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
                                   Bytes(packet->data() + offset, length)};
      queue_outgoing(std::move(fragment));
    }
    return SendResult::kOk;
  }

  OutgoingCommand command;
  command.header.channel = channel_id;
  command.packet = packet;
  command.fragment_length = static_cast<std::uint16_t>(payload.size());
  const Bytes bytes(packet->data(), packet->size());
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
  queue_outgoing(std::move(command));
  return SendResult::kOk;
}

namespace {

// The enet-protocol.md section 8 field checks; false = error, no ack.
bool fragment_fields_ok(const SendFragment& f, const PeerConfig& config) {
  return f.fragment_count <= std::min(config.max_fragment_count, kMaxFragmentCount) &&
         f.fragment_number < f.fragment_count && f.total_length <= config.max_packet_size &&
         f.fragment_offset < f.total_length && f.payload.size() <= f.total_length - f.fragment_offset &&
         !f.payload.empty() && f.total_length >= f.fragment_count;
}

enum class Absorbed : std::uint8_t { kDuplicate, kPartial, kComplete };

// Copies one fragment into its reassembly buffer.
Absorbed absorb_fragment(IncomingCommand& target, const SendFragment& f) {
  const std::uint32_t word = f.fragment_number / 32, bit = 1u << (f.fragment_number % 32);
  if (target.fragment_bits[word] & bit) return Absorbed::kDuplicate;
  target.fragment_bits[word] |= bit;
  --target.fragments_remaining;
  const std::size_t length = std::min<std::size_t>(f.payload.size(), target.data.size() - f.fragment_offset);
  std::memcpy(target.data.data() + f.fragment_offset, f.payload.data(), length);
  return target.fragments_remaining == 0 ? Absorbed::kComplete : Absorbed::kPartial;
}

bool same_packet(const IncomingCommand& held, CommandType type, const SendFragment& f) {
  return held.type == type && held.data.size() == f.total_length && held.fragment_count == f.fragment_count;
}

}  // namespace

Handled Peer::Impl::handle_send_fragment(const Command& command) {
  if (!data_state_ok(command)) return Handled::kStop;
  const auto& f = std::get<SendFragment>(command.body);
  detail::Channel& channel = channels[command.header.channel];
  // Acceptance is decided on the packet's start; the ack on this fragment's own RSN.
  if (!detail::in_receive_window(f.start_sequence, channel.incoming_reliable_sequence)) {
    counters.add(Counter::kDropOutsideWindow);
    return Handled::kOk;
  }
  if (!fragment_fields_ok(f, config)) {
    counters.add(Counter::kDropBadFragment);
    return Handled::kStop;
  }
  IncomingCommand* target = nullptr;
  for (auto& held : channel.incoming_reliable) {
    if (held.reliable_sequence != f.start_sequence) continue;
    if (!same_packet(held, CommandType::kSendFragment, f)) {
      counters.add(Counter::kDropBadFragment);
      return Handled::kStop;
    }
    target = &held;
    break;
  }
  if (!target) {
    CommandHeader start = command.header;
    start.reliable_sequence = f.start_sequence;
    const Handled queued = queue_incoming(start, CommandType::kSendFragment, 0, {}, f.total_length,
                                          f.fragment_count, &target);
    if (queued == Handled::kStop || !target) return Handled::kStop;
  }
  const Absorbed absorbed = absorb_fragment(*target, f);
  if (absorbed == Absorbed::kDuplicate) counters.add(Counter::kDropDuplicate);  // still acked
  if (absorbed == Absorbed::kComplete) dispatch_reliable(command.header.channel);
  return Handled::kOk;
}

Handled Peer::Impl::handle_send_unreliable_fragment(const Command& command) {
  if (!data_state_ok(command)) return Handled::kStop;
  const auto& f = std::get<SendFragment>(command.body);
  detail::Channel& channel = channels[command.header.channel];
  const std::uint16_t r = command.header.reliable_sequence;
  if (!detail::in_receive_window(r, channel.incoming_reliable_sequence)) {
    counters.add(Counter::kDropOutsideWindow);
    return Handled::kOk;
  }
  if (r == channel.incoming_reliable_sequence && f.start_sequence <= channel.incoming_unreliable_sequence) {
    counters.add(Counter::kDropStaleUnreliable);
    return Handled::kOk;
  }
  if (!fragment_fields_ok(f, config)) {
    counters.add(Counter::kDropBadFragment);
    return Handled::kStop;
  }
  IncomingCommand* target = nullptr;
  for (auto& held : channel.incoming_unreliable) {
    if (held.reliable_sequence != r || held.unreliable_sequence != f.start_sequence) continue;
    if (!same_packet(held, CommandType::kSendUnreliableFragment, f)) {
      counters.add(Counter::kDropBadFragment);
      return Handled::kStop;
    }
    target = &held;
    break;
  }
  if (!target) {
    const Handled queued = queue_incoming(command.header, CommandType::kSendUnreliableFragment,
                                          f.start_sequence, {}, f.total_length, f.fragment_count, &target);
    if (queued == Handled::kStop || !target) return Handled::kStop;
  }
  const Absorbed absorbed = absorb_fragment(*target, f);
  if (absorbed == Absorbed::kDuplicate) counters.add(Counter::kDropDuplicate);
  if (absorbed == Absorbed::kComplete) dispatch_unreliable(command.header.channel);
  return Handled::kOk;
}

}  // namespace volley::protocol
