// Outbound datagram assembly: one pass of libenet's enet_protocol_send_outgoing_commands for one
// peer, with enet_protocol_send_acknowledgements and enet_protocol_check_outgoing_commands
// (enet-protocol.md 1.6, 4.3, 7, 9). Order per datagram: queued acks, timed-out commands (already
// requeued at the front), the outgoing queue under the sequence and byte windows, then a PING.
// Unlike libenet, the budget counts the CRC too, so no datagram ever exceeds the MTU.
#include <algorithm>
#include <cstring>

#include "peer_impl.hpp"
#include "seq.hpp"
#include "volley/protocol/byte_io.hpp"
#include "volley/protocol/datagram.hpp"

namespace volley::protocol {

using detail::OutgoingCommand;

namespace {

constexpr std::size_t kHeaderBudget = 4;  // libenet counts the full 4-byte header

}  // namespace

// Commands are encoded straight into the caller's buffer, where the header is expected to end:
// whether it carries the sent time is known only at the end, so the guess is this peer's last
// datagram (a stream of one kind never moves its commands). A wrong guess costs one small move
// of the commands, not a copy of the whole datagram. Room is counted with the longest header
// (libenet's packetSize), so the commands fit after either.
struct Peer::Impl::Assembly {
  MutableBytes body;  // out past the expected header; only [0, body_size) is ever read
  std::size_t body_size = 0;
  std::size_t budget = 0;       // bytes available for the datagram
  std::size_t packet_size = 0;  // libenet host->packetSize: header + CRC + commands so far
  std::size_t command_count = 0;
  bool sent_time = false;

  std::size_t room() const { return budget > packet_size ? budget - packet_size : 0; }
};

bool Peer::Impl::encode_into(Assembly& a, const CommandHeader& header, const CommandBody& body) {
  return count_written(a, encode_command(header, body, a.body.subspan(a.body_size)));
}

bool Peer::Impl::count_written(Assembly& a, std::size_t written) {
  if (written == 0) return false;
  a.body_size += written;
  a.packet_size += written;
  ++a.command_count;
  counters.add(Counter::kCommandsOut);
  return true;
}

void Peer::Impl::write_acks(Assembly& a) {
  while (!acks.empty()) {
    if (a.command_count >= kMaxCommandsPerDatagram ||
        a.room() < command_size(CommandType::kAcknowledge)) {
      continue_sending = true;
      return;
    }
    const detail::PendingAck ack = acks.front();
    acks.pop_front();
    count_written(a, encode_acknowledge(ack.channel, Acknowledge{ack.reliable_sequence, ack.sent_time},
                                        a.body.subspan(a.body_size)));
    counters.add(Counter::kAcksOut);
    // The remote's DISCONNECT is answered: the event fires once that ack is on its way.
    if (ack.type == CommandType::kDisconnect && state == PeerState::kAcknowledgingDisconnect)
      enter_zombie(DisconnectReason::kRemote, event_data, "disconnect ack sent");
  }
}

// enet_protocol_check_outgoing_commands; returns libenet's canPing.
bool Peer::Impl::write_outgoing(TimePoint now, Assembly& a) {
  bool window_exceeded = false, window_wrap = false, can_ping = true;
  const std::uint32_t byte_window = detail::reliable_byte_window(throttle, window_size, mtu);
  auto& outgoing = send_window.outgoing();
  auto it = outgoing.begin();
  while (it != outgoing.end()) {
    OutgoingCommand& command = *it;
    detail::SendChannel* channel = nullptr;
    if (command.header.acknowledge) {
      channel = send_channel(command.header.channel);
      if (send_window.blocked(command, channel, byte_window, window_wrap, window_exceeded)) {
        ++it;
        continue;
      }
      can_ping = false;
    }
    const std::size_t size = command_size(command.header.type);
    if (a.command_count >= kMaxCommandsPerDatagram || a.room() < size ||
        (command.packet && a.room() < size + command.fragment_length)) {
      continue_sending = true;
      break;
    }
    auto current = it++;
    if (command.header.acknowledge) {
      send_window.send_reliable(now, current, channel, detail::bounded_rto_ms(detail::initial_rto_ms(rtt), timeouts),
                                timeouts.limit);
      a.sent_time = true;
      encode_into(a, command.header, command.body);  // the node moved, the reference holds
    } else {
      if (command.packet && command.fragment_offset == 0 && detail::throttle_drops_next(throttle)) {
        // Dropped together with the rest of its fragments.
        const detail::SharedPayload packet = command.packet;
        send_window.discard(current);
        counters.add(Counter::kThrottleDropped);
        while (it != outgoing.end() && it->packet == packet && !it->header.acknowledge)
          it = send_window.discard(it);
        continue;
      }
      encode_into(a, command.header, command.body);
      send_window.discard(current);
    }
    packet_loss.on_sent();
  }
  return can_ping;
}

// How long an idle CONNECTED peer may stay quiet before it is owed a PING. libenet: the ping
// interval since the last ACK. kWhenSilent: since the last datagram of any kind, long enough
// for a remote pinging on libenet's rule (one PING per interval + RTT + its service delay)
// to be heard first, its service delay allowed up to one more interval.
// kWhenSilent stands down while the packet throttle is below its limit: only RTT samples (ACKs
// of our reliable commands) raise it again, and a remote that hears only unreliable data from
// us acks nothing but our PINGs, so without them every later unreliable send kept being
// dropped at the lowered rate (an ASan interop run lost probes for 30 attempts).
bool Peer::Impl::lean_keepalive() const {
  return config.keepalive == KeepalivePolicy::kWhenSilent && throttle.throttle >= throttle.limit;
}

bool Peer::Impl::ping_due(TimePoint now) const {
  const auto at = ping_deadline();
  return !at || now >= *at;
}

// The instant ping_due() turns true (nullopt: it is true already, for want of a reference).
// Measured from the last ACK (libenet) or, lean, from the last datagram heard, after the ping
// interval or, lean, after kSilentPingFactor intervals plus the RTT. The RTT term is capped:
// the remote steers our estimate (up to 65 s), and an uncapped one would let a silent peer go
// unpinged, so its timeout unstarted, for a minute.
std::optional<TimePoint> Peer::Impl::ping_deadline() const {
  const bool lean = lean_keepalive();
  const std::optional<TimePoint>& since = lean && last_heard_time ? last_heard_time : last_receive_time;
  if (!since) return std::nullopt;
  std::uint64_t wait = ping_interval_ms;
  if (lean) {
    wait *= kSilentPingFactor;
    wait += std::min<std::uint64_t>(rtt.rtt_ms, wait);
  }
  return from_ms(whole_ms(*since) + static_cast<std::int64_t>(wait));
}

// True only when assemble(now, ..., true) would write no command: no ACK queued, nothing
// outgoing, no retransmission due, no PING due; and DISCONNECT_LATER, whose drain check
// follows the assembly, always takes the full path.
bool Peer::Impl::nothing_to_send(TimePoint now) const {
  if (!acks.empty() || !send_window.outgoing().empty() || state == PeerState::kDisconnectLater) return false;
  if (send_window.timeout_due(now)) return false;
  return !(send_window.sent().empty() && state == PeerState::kConnected && ping_due(now));
}

// Right after an assembly that wrote a datagram, at the same `now`: whether the next poll could
// write another. Its PING check need not run again: the PING was sent, not due (only input
// moves its reference), not considered (a reliable command in flight, or not CONNECTED), or
// due without room (ping_unsent). Every other reason for output is looked at directly; a full
// datagram (continue_sending) always leaves ACKs or commands queued.
bool Peer::Impl::more_to_send(TimePoint now) const {
  if (!final_datagram.empty()) return true;
  if (!is_live()) return false;
  return ping_unsent || !acks.empty() || !send_window.outgoing().empty() ||
         state == PeerState::kDisconnectLater || send_window.timeout_due(now);
}

bool Peer::Impl::disconnect_later_drained() const {
  return state == PeerState::kDisconnectLater && send_window.idle();
}

// The datagram a CONNECTED peer sends nearly every time: its queued ACKs and at most one whole
// SEND_RELIABLE or SEND_UNRELIABLE, all fitting, the reliable one not held by a window, no
// retransmission or PING due, no CRC or range coding. Written in one pass: the same bytes and
// the same effects as the general assembly below, which takes every other case (kNotLean,
// having changed nothing). tests/peer/peer_plain_datagram_test.cpp holds the two side by side.
std::size_t Peer::Impl::assemble_lean(TimePoint now, MutableBytes out) {
  if (!lean_assembly || state != PeerState::kConnected || config.checksum || config.compress) return kNotLean;
  auto& outgoing = send_window.outgoing();
  const std::size_t commands = outgoing.size();
  if (commands > 1 || send_window.timeout_due(now)) return kNotLean;
  const std::size_t budget = std::min<std::size_t>(mtu, out.size());
  std::size_t size = kHeaderBudget + acks.size() * command_size(CommandType::kAcknowledge);
  bool reliable = false;
  OutgoingCommand* command = nullptr;
  if (commands == 1) {
    command = &outgoing.front();
    const CommandType type = command->header.type;
    reliable = command->header.acknowledge;
    if (!command->packet || type != (reliable ? CommandType::kSendReliable : CommandType::kSendUnreliable))
      return kNotLean;
    if (reliable) {
      bool window_wrap = false, window_exceeded = false;
      const std::uint32_t byte_window = detail::reliable_byte_window(throttle, window_size, mtu);
      if (send_window.blocked(*command, send_channel(command->header.channel), byte_window, window_wrap,
                              window_exceeded))
        return kNotLean;
    }
    size += command_size(type) + command->fragment_length;
  }
  if (acks.size() + commands > kMaxCommandsPerDatagram || size > budget || out.size() <= kHeaderBudget) return kNotLean;
  if (!reliable && send_window.sent().empty() && ping_due(now)) return kNotLean;

  continue_sending = false;
  ping_unsent = false;
  std::uint8_t* const o = out.data();
  std::size_t w = reliable ? 4 : 2;  // the header's size is known before any command is written
  std::size_t written = 0;
  const std::size_t ack_count = acks.size();
  while (!acks.empty()) {
    const detail::PendingAck& ack = acks.front();
    o[w] = static_cast<std::uint8_t>(CommandType::kAcknowledge);
    o[w + 1] = ack.channel;
    store_be16(out, w + 2, ack.reliable_sequence);
    store_be16(out, w + 4, ack.reliable_sequence);
    store_be16(out, w + 6, ack.sent_time);
    w += command_size(CommandType::kAcknowledge);
    acks.pop_front();
  }
  written += ack_count;
  if (command != nullptr) {
    const std::uint8_t channel = command->header.channel;
    const auto it = outgoing.begin();
    if (reliable) {
      send_window.send_reliable(now, it, send_channel(channel), detail::bounded_rto_ms(detail::initial_rto_ms(rtt), timeouts),
                                timeouts.limit);
    } else if (detail::throttle_drops_next(throttle)) {
      send_window.discard(it);
      counters.add(Counter::kThrottleDropped);
      command = nullptr;
    }
    if (command != nullptr) {
      const std::size_t n = encode_command(command->header, command->body, out.subspan(w));
      w += n;
      written += 1;
      packet_loss.on_sent();
      if (!reliable) send_window.discard(it);
    }
  }
  counters.add(Counter::kCommandsOut, written);
  counters.add(Counter::kAcksOut, ack_count);
  if (written == 0) return 0;
  packet_loss.update(now);
  std::uint16_t raw = static_cast<std::uint16_t>(outgoing_peer_id & kMaxPeerId);
  if (outgoing_peer_id < kMaxPeerId) raw |= static_cast<std::uint16_t>((outgoing_session_id & 3u) << kHeaderSessionShift);
  if (reliable) {
    raw |= kHeaderFlagSentTime;
    store_be16(out, 2, static_cast<std::uint16_t>(enet_ms(now) & 0xFFFF));
  }
  store_be16(out, 0, raw);
  last_sent_time = reliable;
  counters.add(Counter::kDatagramsOut);
  counters.add(Counter::kBytesOut, w);
  return w;
}

std::size_t Peer::Impl::assemble(TimePoint now, MutableBytes out, bool service_timers) {
  if (service_timers) {
    if (const std::size_t n = assemble_lean(now, out); n != kNotLean) return n;
  }
  const std::size_t max_prefix = kHeaderBudget + (config.checksum ? kChecksumSize : 0);
  if (out.size() <= max_prefix) return 0;
  Assembly a;
  Header expected;
  if (last_sent_time) expected.sent_time = 0;
  const std::size_t body_at = encoded_header_size(expected, config.checksum);
  a.body = out.subspan(body_at);
  a.budget = std::min<std::size_t>(mtu, out.size());
  a.packet_size = max_prefix;
  continue_sending = false;
  ping_unsent = false;

  write_acks(a);
  if (service_timers && send_window.timeout_due(now) && check_timeouts(now)) return 0;
  const bool can_ping = send_window.outgoing().empty() || write_outgoing(now, a);
  if (service_timers && can_ping && send_window.sent().empty() && state == PeerState::kConnected &&
      ping_due(now)) {
    if (a.room() >= command_size(CommandType::kPing)) {
      queue_protocol_command(CommandType::kPing, true, false, Ping{});
      counters.add(Counter::kPingsOut);
      write_outgoing(now, a);
    } else {
      ping_unsent = true;
    }
  }
  if (a.command_count == 0) return 0;
  packet_loss.update(now);

  Header header;
  header.peer_id = outgoing_peer_id;
  const bool known = outgoing_peer_id < kMaxPeerId;
  header.session = known ? static_cast<std::uint8_t>(outgoing_session_id & 3) : 0;
  if (a.sent_time) header.sent_time = static_cast<std::uint16_t>(enet_ms(now) & 0xFFFF);
  last_sent_time = a.sent_time;
  const std::size_t header_bytes = encoded_header_size(header, config.checksum);
  if (header_bytes != body_at) std::memmove(out.data() + header_bytes, a.body.data(), a.body_size);
  if (encode_header(header, config.checksum, out.first(header_bytes)) == 0) return 0;
  std::size_t length = header_bytes + a.body_size;
  if (config.checksum || config.compress) {  // most hosts use neither: no call per datagram
    FinishOptions options;
    options.checksum = config.checksum;
    if (known) options.seed = connect_id;
    options.compress = config.compress;
    length = finish_datagram(out.first(length), header_bytes - (config.checksum ? kChecksumSize : 0), options);
  }
  counters.add(Counter::kDatagramsOut);
  counters.add(Counter::kBytesOut, length);
  return length;
}

std::size_t Peer::Impl::poll_datagram(TimePoint now, MutableBytes out) {
  if (now > last_now) last_now = now;
  poll_again = true;
  if (!final_datagram.empty()) {
    const std::size_t length = std::min(final_datagram.size(), out.size());
    std::memcpy(out.data(), final_datagram.data(), length);
    final_datagram.clear();
    counters.add(Counter::kDatagramsOut);
    counters.add(Counter::kBytesOut, length);
    return length;
  }
  if (!is_live()) {
    flush_pending = false;
    return 0;
  }
  if (nothing_to_send(now)) {
    // What assemble() would conclude, without setting up an assembly: the poll that ends every
    // service pass (and the pass for a datagram carrying only an ACK) takes this path.
    continue_sending = false;
    flush_pending = false;
    return 0;
  }
  std::size_t length = assemble(now, out, true);
  if (disconnect_later_drained()) {
    disconnect(event_data);
    if (length == 0) length = assemble(now, out, true);
  }
  if (length == 0) {
    flush_pending = false;
  } else if (!more_to_send(now)) {
    // What the empty poll that would follow concludes, so that the caller may skip it.
    flush_pending = false;
    poll_again = false;
  }
  return length;
}

// The one datagram of a non-graceful DISCONNECT (enet_peer_disconnect outside CONNECTED, and
// enet_peer_disconnect_now): no timers, no PING, sent before the reset.
std::size_t Peer::Impl::build_final_datagram(MutableBytes out) {
  return assemble(last_now, out, false);
}

// The earliest of: output ready now (acks, queued commands, a final DISCONNECT), the oldest
// unacked reliable command's RTO (libenet peer->nextTimeout), an idle CONNECTED peer's PING.
std::optional<TimePoint> Peer::Impl::next_deadline() const {
  std::optional<TimePoint> earliest;
  const auto consider = [&earliest](TimePoint at) {
    if (!earliest || at < *earliest) earliest = at;
  };
  if (!final_datagram.empty() || flush_pending || continue_sending || !acks.empty()) consider(last_now);
  if (is_live()) {
    if (const auto resend = send_window.next_timeout_ms()) consider(from_ms(*resend));
    if (state == PeerState::kConnected && send_window.sent().empty())
      consider(ping_deadline().value_or(last_now));
  }
  return earliest;
}

}  // namespace volley::protocol
