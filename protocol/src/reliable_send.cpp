// Outgoing numbering, the sent-reliable list, retransmission timeouts and the disconnect-on-
// timeout rule. Mirrors peer.c enet_peer_setup_outgoing_command and protocol.c
// enet_protocol_remove_sent_reliable_command / enet_protocol_check_timeouts
// (enet-protocol.md sections 4.1 and 6). Times are TimePoints; elapsed milliseconds are taken
// as differences of whole-ms counts, which is what libenet's ms service clock yields.
#include <utility>

#include "peer_impl.hpp"
#include "seq.hpp"

namespace volley::protocol {

using detail::OutgoingCommand;

namespace {

std::uint32_t elapsed_ms(TimePoint now, TimePoint then) {
  return static_cast<std::uint32_t>(whole_ms(now) - whole_ms(then));
}

}  // namespace

// enet_peer_setup_outgoing_command: assigns RSN / USN / unsequenced group and appends.
void Peer::Impl::queue_outgoing(OutgoingCommand command) {
  CommandHeader& header = command.header;
  std::uint16_t reliable_sequence = 0;
  if (header.channel == kPeerLevelChannel) {
    reliable_sequence = ++outgoing_reliable_sequence;
  } else if (header.acknowledge) {
    detail::Channel& channel = channels[header.channel];
    reliable_sequence = ++channel.outgoing_reliable_sequence;
    channel.outgoing_unreliable_sequence = 0;
  } else if (header.unsequenced) {
    ++outgoing_unsequenced_group;
  } else {
    detail::Channel& channel = channels[header.channel];
    if (command.fragment_offset == 0) ++channel.outgoing_unreliable_sequence;
    reliable_sequence = channel.outgoing_reliable_sequence;
    command.unreliable_sequence = channel.outgoing_unreliable_sequence;
  }
  header.reliable_sequence = reliable_sequence;
  if (auto* unreliable = std::get_if<SendUnreliable>(&command.body))
    unreliable->unreliable_sequence = command.unreliable_sequence;
  if (auto* unsequenced = std::get_if<SendUnsequenced>(&command.body))
    unsequenced->unsequenced_group = outgoing_unsequenced_group;
  outgoing.push_back(std::move(command));
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

// enet_protocol_remove_sent_reliable_command: the sent list first, then commands that were
// sent and requeued by a timeout. Returns the acked command's type.
std::optional<CommandType> Peer::Impl::remove_sent_reliable(std::uint16_t sequence,
                                                            std::uint8_t channel_id) {
  auto matches = [&](const OutgoingCommand& c) {
    return c.header.reliable_sequence == sequence && c.header.channel == channel_id;
  };
  OutList* list = &sent_reliable;
  auto it = sent_reliable.begin();
  while (it != sent_reliable.end() && !matches(*it)) ++it;
  bool was_sent = true;
  if (it == sent_reliable.end()) {
    list = &outgoing;
    for (it = outgoing.begin(); it != outgoing.end(); ++it) {
      if (!it->header.acknowledge) continue;
      if (it->send_attempts < 1) return std::nullopt;  // the rest were never sent
      if (matches(*it)) break;
    }
    if (it == outgoing.end()) return std::nullopt;
    was_sent = false;
  }
  if (channel_id < channels.size()) {
    detail::Channel& channel = channels[channel_id];
    const std::uint16_t window = sequence / detail::kReliableWindowSize;
    if (channel.reliable_windows[window] > 0 && --channel.reliable_windows[window] == 0)
      channel.used_reliable_windows &= static_cast<std::uint16_t>(~(1u << window));
  }
  const CommandType type = it->header.type;
  if (it->packet && was_sent) reliable_data_in_transit -= it->fragment_length;
  list->erase(it);
  if (!sent_reliable.empty()) {
    const OutgoingCommand& front = sent_reliable.front();
    next_timeout_ms = whole_ms(*front.sent_time) + *front.rto_ms;
  }
  return type;
}

// enet_protocol_check_timeouts. Returns true when the peer gave up (state already changed).
bool Peer::Impl::check_timeouts(TimePoint now) {
  auto insert_at = outgoing.begin();
  auto it = sent_reliable.begin();
  while (it != sent_reliable.end()) {
    auto current = it++;
    OutgoingCommand& command = *current;
    if (elapsed_ms(now, *command.sent_time) < *command.rto_ms) continue;
    if (!earliest_timeout || whole_ms(*command.sent_time) < whole_ms(*earliest_timeout))
      earliest_timeout = command.sent_time;
    const std::uint32_t silent_ms = elapsed_ms(now, *earliest_timeout);
    if (silent_ms >= timeout_maximum_ms ||
        (*command.rto_ms >= command.rto_limit_ms && silent_ms >= timeout_minimum_ms)) {
      notify_disconnect(DisconnectReason::kTimeout, "timeout");
      return true;
    }
    if (command.packet) reliable_data_in_transit -= command.fragment_length;
    ++packets_lost;
    counters.add(Counter::kRetransmits);
    *command.rto_ms *= 2;
    // Requeue at the front, keeping the order of the timed-out commands among themselves.
    outgoing.splice(insert_at, sent_reliable, current);
    if (it == sent_reliable.begin() && it != sent_reliable.end())
      next_timeout_ms = whole_ms(*it->sent_time) + *it->rto_ms;
  }
  return false;
}

void Peer::Impl::run_timers(TimePoint now) {
  if (now > last_now) last_now = now;
  if (!is_live() || sent_reliable.empty() || !next_timeout_ms) return;
  if (whole_ms(now) >= *next_timeout_ms) check_timeouts(now);
}

}  // namespace volley::protocol
