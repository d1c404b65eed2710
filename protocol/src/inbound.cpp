// Inbound pipeline and the peer-level command handlers. Mirrors protocol.c
// enet_protocol_handle_incoming_commands (header checks, decompress, CRC, command loop and ack
// queueing), enet_protocol_handle_acknowledge, _connect, _verify_connect, _disconnect, _ping,
// _bandwidth_limit and _throttle_configure (enet-protocol.md sections 1.4, 1.5, 3, 5, 9, 10).
// Every rejection increments a named counter; "stop" ends the datagram, keeping earlier effects.
#include <algorithm>
#include <array>
#include <cstdint>
#include <limits>

#include "peer_impl.hpp"
#include "seq.hpp"
#include "volley/protocol/byte_io.hpp"
#include "volley/protocol/datagram.hpp"

namespace volley::protocol {

namespace {

Counter counter_for(DecodeError error) {
  switch (error) {
    case DecodeError::kTruncatedHeader:
    case DecodeError::kTruncatedChecksum: return Counter::kDropTruncatedHeader;
    case DecodeError::kBadChecksum: return Counter::kDropBadChecksum;
    case DecodeError::kCompressedNotEnabled: return Counter::kDropCompressedNotEnabled;
    case DecodeError::kDecompressFailed: return Counter::kDropDecompressFailed;
    case DecodeError::kTrailingBytes: return Counter::kDropTrailingBytes;
    case DecodeError::kNotConnect: return Counter::kDropNotConnect;
    default: return Counter::kDropMalformedCommand;
  }
}

OpenOptions open_options(const PeerConfig& config) { return OpenOptions{config.checksum, config.compress}; }

}  // namespace

std::optional<ConnectRequest> peek_connect(Bytes datagram, const PeerConfig& config) noexcept {
  std::array<std::uint8_t, kMaxDecompressedBody> scratch;
  const auto admit = [](const Header& h) -> std::optional<ChecksumSeed> {
    if (h.peer_id != kMaxPeerId) return std::nullopt;
    return ChecksumSeed{};
  };
  const auto opened = open_admitted_datagram(datagram, open_options(config), scratch, admit);
  if (!opened.ok()) return std::nullopt;
  CommandReader reader(opened.value->commands, true, CommandLimits{config.max_packet_size});
  Command command;
  if (!reader.next(command)) return std::nullopt;
  const auto* connect = std::get_if<Connect>(&command.body);
  if (!connect) return std::nullopt;
  return ConnectRequest{connect->params, connect->data};
}

HandshakeAck peek_handshake_ack(Bytes datagram, const PeerConfig& config,
                                const ChecksumSeed& seed) noexcept {
  std::array<std::uint8_t, kMaxDecompressedBody> scratch;
  const auto admit = [&](const Header& h) -> std::optional<ChecksumSeed> {
    if (h.peer_id == kMaxPeerId) return std::nullopt;
    return seed;
  };
  const auto opened = open_admitted_datagram(datagram, open_options(config), scratch, admit);
  if (!opened.ok()) return {HandshakeAck::Status::kBadDatagram};
  CommandReader reader(opened.value->commands, false, CommandLimits{config.max_packet_size});
  Command command;
  while (reader.next(command)) {
    const auto* ack = std::get_if<Acknowledge>(&command.body);
    if (ack && command.header.channel == kPeerLevelChannel && ack->received_reliable_sequence == 1)
      return {HandshakeAck::Status::kAck, ack->received_sent_time};
  }
  return {reader.error() ? HandshakeAck::Status::kBadDatagram : HandshakeAck::Status::kNoAck};
}

void Peer::Impl::count_arrival(TimePoint now, std::size_t bytes) {
  if (now > last_now) last_now = now;
  counters.add(Counter::kDatagramsIn);
  counters.add(Counter::kBytesIn, bytes);
}

void Peer::Impl::on_datagram(TimePoint now, Bytes datagram) {
  const auto header = decode_header(datagram, config.checksum);
  if (header.ok()) {
    on_datagram(now, datagram, *header.value);
    return;
  }
  count_arrival(now, datagram.size());
  counters.add(counter_for(header.error));
}

namespace {

// Sets the peer's borrowing flag (DatagramLifetime) for the commands of one datagram.
struct Borrowing {
  bool& flag;
  Borrowing(bool& f, bool on) : flag(f) { flag = on; }
  ~Borrowing() { flag = false; }
  Borrowing(const Borrowing&) = delete;
  Borrowing& operator=(const Borrowing&) = delete;
};

}  // namespace

// A CONNECTED peer's datagram that is neither range-coded nor checksummed needs no opening:
// its commands are the body, in the datagram. These are the checks open_datagram's admitter
// makes for such a peer; any other datagram, or one they refuse, is opened (and its refusal
// counted) there.
bool Peer::Impl::unopened(const Header& h) const noexcept {
  return state == PeerState::kConnected && !config.checksum && !h.compressed && h.peer_id == incoming_peer_id &&
         outgoing_peer_id < kMaxPeerId && h.session == (incoming_session_id & 3);
}

bool Peer::Impl::on_datagram(TimePoint now, Bytes datagram, const HeaderView& decoded, bool borrow,
                             PeerEvent* direct) {
  count_arrival(now, datagram.size());
  if (!unopened(decoded.header)) {
    open_and_walk(now, datagram, decoded, borrow);
    return false;
  }
  last_heard_time = now;
  const Borrowing borrowing_scope(borrowing, borrow);
  PeerEvent* const offered = borrow ? direct : nullptr;
  direct = offered;
  if (!take_plain_commands(now, decoded.header, decoded.body, direct)) walk_commands(now, decoded.header, decoded.body);
  return offered != nullptr && direct == nullptr;
}

void Peer::Impl::open_and_walk(TimePoint now, Bytes datagram, const HeaderView& decoded, bool borrow) {
  std::array<std::uint8_t, kMaxDecompressedBody> scratch;
  auto admit = [&](const Header& h) -> std::optional<ChecksumSeed> {
    if (h.peer_id == kMaxPeerId) {
      // Only a free server slot takes a CONNECT; the Host already chose it.
      if (role != PeerRole::kServer || state != PeerState::kDisconnected) {
        counters.add(Counter::kDropUnexpectedConnect);
        return std::nullopt;
      }
      return ChecksumSeed{};
    }
    if (h.peer_id != incoming_peer_id) {
      counters.add(Counter::kDropWrongPeerId);
      return std::nullopt;
    }
    if (!is_live()) {
      counters.add(Counter::kDropPeerNotLive);
      return std::nullopt;
    }
    if (outgoing_peer_id < kMaxPeerId && h.session != (incoming_session_id & 3)) {
      counters.add(Counter::kDropWrongSession);
      return std::nullopt;
    }
    return connect_id;
  };
  const auto opened = open_admitted_commands(datagram, decoded, open_options(config), scratch, admit);
  if (!opened.ok()) {
    if (opened.error != DecodeError::kCount) counters.add(counter_for(opened.error));
    return;
  }
  last_heard_time = now;  // any admitted datagram proves the remote alive (KeepalivePolicy::kWhenSilent)

  const Header& header = decoded.header;
  // Payloads may be viewed only where they lie in the caller's datagram: a range-coded one was
  // decoded into `scratch`, which ends with this call.
  const auto address = [](const std::uint8_t* p) { return reinterpret_cast<std::uintptr_t>(p); };
  const Bytes commands = *opened.value;
  const bool in_datagram = address(commands.data()) >= address(datagram.data()) &&
                           address(commands.data()) + commands.size() <= address(datagram.data()) + datagram.size();
  const Borrowing borrowing_scope(borrowing, borrow && in_datagram);
  PeerEvent* no_direct = nullptr;
  if (state == PeerState::kConnected && take_plain_commands(now, header, commands, no_direct)) return;
  walk_commands(now, header, commands);
}

void Peer::Impl::walk_commands(TimePoint now, const Header& header, Bytes commands) {
  // Senders put at most 32 commands in a datagram, but a libenet receiver imposes no limit.
  CommandReader reader(commands, header.peer_id == kMaxPeerId,
                       CommandLimits{config.max_packet_size, std::numeric_limits<std::size_t>::max()});
  Command command;
  while (reader.next(command)) {
    counters.add(Counter::kCommandsIn);
    if (handle_command(now, command) == detail::Handled::kStop) return;
    if (!command.header.acknowledge || state == PeerState::kDisconnected) continue;
    if (!header.sent_time) {
      // libenet cannot ack without the sender's time: it stops here and the sender retries.
      counters.add(Counter::kDropAckWithoutSentTime);
      // A DISCONNECT that cannot be acked left the peer ACKNOWLEDGING_DISCONNECT with its queues
      // reset: no ack will ever go out, so no timer or deadline remains. libenet would hold that
      // slot forever; a remote peer must not be able to pin slots, so it ends here (found by the
      // Host fuzzer).
      if (state == PeerState::kAcknowledgingDisconnect && command.header.type == CommandType::kDisconnect)
        enter_zombie(DisconnectReason::kRemote, event_data, "disconnect without sent time");
      return;
    }
    switch (state) {
      case PeerState::kDisconnecting:
      case PeerState::kAcknowledgingConnect:
      case PeerState::kZombie:
        break;
      case PeerState::kAcknowledgingDisconnect:
        if (command.header.type == CommandType::kDisconnect)
          queue_acknowledgement(command, *header.sent_time);
        break;
      default:
        queue_acknowledgement(command, *header.sent_time);
        break;
    }
  }
  if (reader.error()) counters.add(counter_for(*reader.error()));
}

Handled Peer::Impl::handle_command(TimePoint now, const Command& command) {
  switch (command.header.type) {
    case CommandType::kAcknowledge: return handle_acknowledge(now, command);
    case CommandType::kConnect: return handle_connect(command);
    case CommandType::kVerifyConnect: return handle_verify_connect(command);
    case CommandType::kDisconnect: return handle_disconnect(command);
    case CommandType::kPing: return session_state_ok() ? Handled::kOk : Handled::kStop;
    case CommandType::kSendReliable:
    case CommandType::kSendUnreliable:
    case CommandType::kSendFragment:
    case CommandType::kSendUnreliableFragment: return handle_send(command);
    case CommandType::kSendUnsequenced: return handle_send_unsequenced(command);
    case CommandType::kBandwidthLimit: return handle_bandwidth_limit(command);
    case CommandType::kThrottleConfigure: return handle_throttle_configure(command);
  }
  counters.add(Counter::kDropMalformedCommand);
  return Handled::kStop;
}

// enet_peer_queue_acknowledgement: commands too far ahead (window distance 7-8) are not acked so
// that the sender retries once the window has moved.
void Peer::Impl::queue_acknowledgement(const Command& command, std::uint16_t sent_time) {
  queue_acknowledgement(command.header.channel, command.header.reliable_sequence, command.header.type, sent_time);
}

void Peer::Impl::queue_acknowledgement(std::uint8_t channel_id, std::uint16_t reliable_sequence, CommandType type,
                                       std::uint16_t sent_time) {
  if (channel_id < channels.size() && channels[channel_id].receive.ack_withheld(reliable_sequence)) return;
  if (acks.size() >= config.max_queued_acks) {
    counters.add(Counter::kDropAckQueueFull);
    return;
  }
  acks.push_back(detail::PendingAck{channel_id, reliable_sequence, sent_time, type});
  flush_pending = true;
}

namespace {

constexpr std::uint8_t kPlainAck = static_cast<std::uint8_t>(CommandType::kAcknowledge);
constexpr std::uint8_t kPlainReliable = kCommandFlagAcknowledge | static_cast<std::uint8_t>(CommandType::kSendReliable);
constexpr std::uint8_t kPlainPing = kCommandFlagAcknowledge | static_cast<std::uint8_t>(CommandType::kPing);
constexpr std::uint8_t kPlainUnreliable = static_cast<std::uint8_t>(CommandType::kSendUnreliable);

}  // namespace

// The datagrams a CONNECTED peer lives on: ACKs (flagless), then at most one flagless
// SEND_UNRELIABLE, or one SEND_RELIABLE or PING with the ACKNOWLEDGE flag and the sender's time
// in the header; nothing after it. They are read in place, where the generic walk builds a
// Command per command and dispatches it; the handlers behind both are the same, and so is every
// effect, counter included (tests/peer/peer_plain_datagram_test.cpp holds the two side by side).
// False, with nothing done: any other shape, for the generic walk. `direct` (may be null): where
// the packet goes if it is handed over at once (Peer::on_datagram_direct); cleared if it was.
bool Peer::Impl::take_plain_commands(TimePoint now, const Header& header, Bytes commands, PeerEvent*& direct) {
  const std::size_t ack_size = command_size(CommandType::kAcknowledge);
  const std::size_t n = commands.size();
  std::size_t at = 0;
  while (n - at >= ack_size && commands[at] == kPlainAck) at += ack_size;
  const std::size_t acks_end = at;
  CommandType type = CommandType::kAcknowledge;
  std::uint16_t unreliable_sequence = 0;
  Bytes payload;
  if (at != n) {
    const std::uint8_t raw = commands[at];
    if (raw == kPlainReliable || raw == kPlainPing) {
      if (!header.sent_time) return false;
    } else if (raw != kPlainUnreliable) {
      return false;
    }
    type = static_cast<CommandType>(raw & kCommandNumberMask);
    const std::size_t fixed = command_size(type);
    if (n - at < fixed) return false;
    if (type != CommandType::kPing) {
      if (commands[at + 1] >= channels.size()) return false;
      const std::size_t length_at = type == CommandType::kSendReliable ? 4 : 6;
      if (type == CommandType::kSendUnreliable) unreliable_sequence = load_be16(commands, at + 4);
      const std::size_t length = load_be16(commands, at + length_at);
      if (length > config.max_packet_size || n - at - fixed != length) return false;
      payload = commands.subspan(at + fixed, length);
    } else if (n - at != fixed) {
      return false;
    }
  }
  for (std::size_t a = 0; a < acks_end; a += ack_size) {
    counters.add(Counter::kCommandsIn);
    std::optional<CommandType> acked;
    take_acknowledgement(now, commands[a + 1], Acknowledge{load_be16(commands, a + 4), load_be16(commands, a + 6)},
                         acked);
  }
  if (acks_end == n) return true;
  counters.add(Counter::kCommandsIn);
  const std::uint8_t channel = commands[acks_end + 1];
  const std::uint16_t reliable_sequence = load_be16(commands, acks_end + 2);
  if (type != CommandType::kPing) {
    detail::ReceiveContext ctx = receive_context(channel);
    ctx.direct = direct;
    const Handled handled = channels[channel].receive.receive(ctx, type, reliable_sequence, unreliable_sequence, payload);
    direct = ctx.direct;
    if (handled == Handled::kStop) return true;
  }
  if (type != CommandType::kSendUnreliable) queue_acknowledgement(channel, reliable_sequence, type, *header.sent_time);
  return true;
}

// enet_protocol_handle_acknowledge up to its state switch, shared by the walk and the in-place
// reader: the RTT sample and the send window. False when the state machine has nothing to look
// at (the handshake's cookie ACK, or a sent time from the future); else `acked` is what it
// acknowledged.
bool Peer::Impl::take_acknowledgement(TimePoint now, std::uint8_t channel, const Acknowledge& ack,
                                      std::optional<CommandType>& acked) {
  counters.add(Counter::kAcksIn);
  if (handshake_cookie_time && channel == kPeerLevelChannel && ack.received_reliable_sequence == 1 &&
      ack.received_sent_time == *handshake_cookie_time) {
    // The ACK that proved the handshake (or a duplicate of it): accept() took the RTT sample.
    last_receive_time = now;
    send_window.heard_from_peer();
    return false;
  }
  const auto sample = detail::rtt_sample_ms(enet_ms(now), ack.received_sent_time);
  if (!sample) {
    counters.add(Counter::kDropAckFromFuture);
    return false;
  }
  detail::rtt_apply_sample(rtt, throttle, *sample, !last_receive_time, now);
  last_receive_time = now;
  send_window.heard_from_peer();
  acked = send_window.acknowledge(ack.received_reliable_sequence, channel, send_channel(channel));
  return true;
}

Handled Peer::Impl::handle_acknowledge(TimePoint now, const Command& command) {
  if (!is_live()) return Handled::kOk;
  std::optional<CommandType> acked;
  if (!take_acknowledgement(now, command.header.channel, std::get<Acknowledge>(command.body), acked))
    return Handled::kOk;
  switch (state) {
    case PeerState::kAcknowledgingConnect:
      if (acked != CommandType::kVerifyConnect) {
        counters.add(Counter::kDropUnexpectedAck);
        return Handled::kStop;
      }
      notify_connect("verify_connect acked");
      break;
    case PeerState::kDisconnecting:
      if (acked != CommandType::kDisconnect) {
        counters.add(Counter::kDropUnexpectedAck);
        return Handled::kStop;
      }
      notify_disconnect(DisconnectReason::kLocal, "disconnect acked");
      break;
    case PeerState::kDisconnectLater:
      if (send_window.idle()) disconnect(event_data);
      break;
    default:
      break;
  }
  return Handled::kOk;
}

Handled Peer::Impl::handle_disconnect(const Command& command) {
  if (state == PeerState::kDisconnected || state == PeerState::kZombie ||
      state == PeerState::kAcknowledgingDisconnect)
    return Handled::kOk;
  const std::uint32_t data = std::get<Disconnect>(command.body).data;
  reset_queues();
  switch (state) {
    case PeerState::kConnecting:
      enter_zombie(DisconnectReason::kRefused, data, "disconnect received");
      break;
    case PeerState::kConnectionSucceeded:
    case PeerState::kDisconnecting:
      enter_zombie(DisconnectReason::kRemote, data, "disconnect received");
      break;
    case PeerState::kConnected:
    case PeerState::kDisconnectLater:
      if (command.header.acknowledge) {
        change_state(PeerState::kAcknowledgingDisconnect, "disconnect received");
        event_data = data;
      } else {
        enter_zombie(DisconnectReason::kRemote, data, "disconnect_now received");
      }
      break;
    default:  // ACKNOWLEDGING_CONNECT / CONNECTION_PENDING: the app never saw this connection
      reset_state();
      break;
  }
  return Handled::kOk;
}

Handled Peer::Impl::handle_bandwidth_limit(const Command& command) {
  if (!session_state_ok()) return Handled::kStop;
  const auto& limit = std::get<BandwidthLimit>(command.body);
  remote_incoming_bandwidth = limit.incoming_bandwidth;
  remote_outgoing_bandwidth = limit.outgoing_bandwidth;
  window_size = detail::send_window_for(config.outgoing_bandwidth, remote_incoming_bandwidth);
  return Handled::kOk;
}

Handled Peer::Impl::handle_throttle_configure(const Command& command) {
  if (!session_state_ok()) return Handled::kStop;
  const auto& configure = std::get<ThrottleConfigure>(command.body);
  throttle.interval_ms = configure.interval;
  throttle.acceleration = configure.acceleration;
  throttle.deceleration = configure.deceleration;
  return Handled::kOk;
}

// CONNECTED or DISCONNECT_LATER take data, PING and the peer-level control commands; in any
// other state the command is counted as wrong-state and stops the datagram.
bool Peer::Impl::session_state_ok() {
  if (state == PeerState::kConnected || state == PeerState::kDisconnectLater) return true;
  counters.add(Counter::kDropWrongState);
  return false;
}

// Both failures stop the datagram, as in libenet; the state is tested first so that data still
// arriving after a local disconnect (channels already released) is counted as wrong-state.
bool Peer::Impl::data_state_ok(const Command& command) {
  if (!session_state_ok()) return false;
  if (command.header.channel >= channels.size()) {
    counters.add(Counter::kDropBadChannel);
    return false;
  }
  return true;
}

// SEND_RELIABLE, SEND_UNRELIABLE and both fragment kinds: the channel orders and reassembles.
Handled Peer::Impl::handle_send(const Command& command) {
  if (!data_state_ok(command)) return Handled::kStop;
  const CommandHeader& header = command.header;
  detail::ReceiveChannel& channel = channels[header.channel].receive;
  detail::ReceiveContext ctx = receive_context(header.channel);
  switch (header.type) {
    case CommandType::kSendReliable:
      return channel.receive(ctx, header.type, header.reliable_sequence, 0,
                             std::get<SendReliable>(command.body).payload);
    case CommandType::kSendUnreliable: {
      const auto& body = std::get<SendUnreliable>(command.body);
      return channel.receive(ctx, header.type, header.reliable_sequence, body.unreliable_sequence, body.payload);
    }
    default:
      return channel.receive_fragment(ctx, header.type, header.reliable_sequence,
                                      std::get<SendFragment>(command.body));
  }
}

// enet_protocol_handle_send_unsequenced: no ordering, only the duplicate window.
Handled Peer::Impl::handle_send_unsequenced(const Command& command) {
  if (!data_state_ok(command)) return Handled::kStop;
  const auto& body = std::get<SendUnsequenced>(command.body);
  switch (unsequenced_window.admit(body.unsequenced_group)) {
    case detail::UnsequencedWindow::Verdict::kOld:
      counters.add(Counter::kDropUnsequencedOld);
      return Handled::kOk;
    case detail::UnsequencedWindow::Verdict::kDuplicate:
      counters.add(Counter::kDropUnsequencedDuplicate);
      return Handled::kOk;
    case detail::UnsequencedWindow::Verdict::kNew:
      break;
  }
  if (state == PeerState::kDisconnectLater) {
    counters.add(Counter::kDropDisconnectLater);
  } else {
    if (!received.take(body.payload.size(), counters)) return Handled::kStop;
    detail::ReceiveContext ctx = receive_context(command.header.channel);
    detail::deliver_now(ctx, CommandType::kSendUnsequenced, body.payload);
  }
  unsequenced_window.mark(body.unsequenced_group);
  return Handled::kOk;
}

}  // namespace volley::protocol
