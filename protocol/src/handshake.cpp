// The handshake in both roles: the client's CONNECT (host.c enet_host_connect), the server's
// handling of it (protocol.c enet_protocol_handle_connect: sessions, MTU, windows, channel
// clamp, VERIFY_CONNECT) and the client's checks of VERIFY_CONNECT
// (enet_protocol_handle_verify_connect). enet-protocol.md sections 3.1 and 3.2.
#include <algorithm>

#include "volley/protocol/datagram.hpp"

#include "peer_impl.hpp"

namespace volley::protocol {

namespace {

constexpr std::uint8_t kSessionMask = kHeaderSessionMask >> kHeaderSessionShift;  // 3
constexpr std::uint8_t kNoSession = 0xFF;

// One step of the session rotation: the remote's last value (or, for a fresh remote, our own),
// plus one, skipping the value this slot used last time so stale datagrams are told apart.
std::uint8_t next_session(std::uint8_t announced, std::uint8_t slot_value) {
  std::uint8_t next = announced == kNoSession ? slot_value : announced;
  next = static_cast<std::uint8_t>((next + 1) & kSessionMask);
  if (next == slot_value) next = static_cast<std::uint8_t>((next + 1) & kSessionMask);
  return next;
}

}  // namespace

bool Peer::Impl::connect(TimePoint now, std::uint32_t channel_count, std::uint32_t data,
                         std::array<std::uint8_t, 4> id) {
  if (now > last_now) last_now = now;
  if (role != PeerRole::kClient || state != PeerState::kDisconnected) return false;
  channel_count = std::clamp(channel_count, kMinChannelCount, kMaxChannelCount);
  channels.assign(channel_count);
  change_state(PeerState::kConnecting, "connect");
  connect_id = id;
  window_size = detail::connect_window(config.outgoing_bandwidth);
  mtu = std::clamp(config.mtu, kMinMtu, kMaxMtu);

  Connect connect;
  ConnectParams& p = connect.params;
  p.outgoing_peer_id = incoming_peer_id;
  p.incoming_session_id = incoming_session_id;
  p.outgoing_session_id = outgoing_session_id;
  p.mtu = mtu;
  p.window_size = window_size;
  p.channel_count = channel_count;
  p.incoming_bandwidth = config.incoming_bandwidth;
  p.outgoing_bandwidth = config.outgoing_bandwidth;
  p.packet_throttle_interval = throttle.interval_ms;
  p.packet_throttle_acceleration = throttle.acceleration;
  p.packet_throttle_deceleration = throttle.deceleration;
  p.connect_id = id;
  connect.data = data;
  queue_protocol_command(CommandType::kConnect, true, false, connect);
  return true;
}

void Peer::Impl::assign_sessions(const ConnectParams& params) {
  outgoing_session_id = next_session(params.incoming_session_id, outgoing_session_id);
  incoming_session_id = next_session(params.outgoing_session_id, incoming_session_id);
}

Handled Peer::Impl::handle_connect(const Command& command) {
  if (role != PeerRole::kServer || state != PeerState::kDisconnected) {
    counters.add(Counter::kDropUnexpectedConnect);
    return Handled::kStop;
  }
  const auto& connect = std::get<Connect>(command.body);
  const ConnectParams& p = connect.params;
  if (p.channel_count < kMinChannelCount || p.channel_count > kMaxChannelCount) {
    counters.add(Counter::kDropBadChannelCount);
    return Handled::kStop;
  }
  assign_sessions(p);
  VerifyConnect verify;
  verify.params = negotiate_verify(p, config, incoming_peer_id, outgoing_session_id, incoming_session_id);
  apply_connect(connect, verify.params);
  queue_protocol_command(CommandType::kVerifyConnect, true, false, verify);
  return Handled::kOk;
}

// What handle_connect leaves behind, minus the queued VERIFY_CONNECT: shared with accept().
void Peer::Impl::apply_connect(const Connect& connect, const ConnectParams& verify) {
  const ConnectParams& p = connect.params;
  channels.assign(verify.channel_count);
  change_state(PeerState::kAcknowledgingConnect, "connect received");
  connect_id = p.connect_id;
  outgoing_peer_id = p.outgoing_peer_id;
  remote_incoming_bandwidth = p.incoming_bandwidth;
  remote_outgoing_bandwidth = p.outgoing_bandwidth;
  throttle.interval_ms = p.packet_throttle_interval;
  throttle.acceleration = p.packet_throttle_acceleration;
  throttle.deceleration = p.packet_throttle_deceleration;
  event_data = connect.data;
  mtu = verify.mtu;
  window_size = detail::send_window_for(config.outgoing_bandwidth, remote_incoming_bandwidth);
}

bool Peer::Impl::accept(TimePoint now, const ConnectRequest& request, const ConnectParams& verify,
                        std::uint16_t cookie_time, std::uint32_t rtt_sample, Bytes datagram) {
  if (now > last_now) last_now = now;
  if (role != PeerRole::kServer || state != PeerState::kDisconnected) return false;
  incoming_peer_id = verify.outgoing_peer_id;
  outgoing_session_id = verify.incoming_session_id;
  incoming_session_id = verify.outgoing_session_id;
  apply_connect(Connect{request.params, request.data}, verify);
  send_window.skip_peer_level_sequence();  // RSN 1 was the VERIFY_CONNECT the Host sent
  detail::rtt_apply_sample(rtt, throttle, std::max<std::uint32_t>(rtt_sample, 1), true, now);
  last_receive_time = now;
  handshake_cookie_time = cookie_time;
  notify_connect("verify_connect acked");
  on_datagram(now, datagram);
  return true;
}

Handled Peer::Impl::handle_verify_connect(const Command& command) {
  if (state != PeerState::kConnecting) return Handled::kOk;  // duplicate: ignored, acked again
  const ConnectParams& v = std::get<VerifyConnect>(command.body).params;
  if (v.channel_count < kMinChannelCount || v.channel_count > kMaxChannelCount ||
      v.packet_throttle_interval != throttle.interval_ms ||
      v.packet_throttle_acceleration != throttle.acceleration ||
      v.packet_throttle_deceleration != throttle.deceleration || v.connect_id != connect_id) {
    counters.add(Counter::kDropVerifyMismatch);
    enter_zombie(DisconnectReason::kVerifyMismatch, 0, "verify_connect mismatch");
    return Handled::kStop;
  }
  send_window.acknowledge(1, kPeerLevelChannel, nullptr);
  channels.shrink_to(v.channel_count);
  outgoing_peer_id = v.outgoing_peer_id;
  incoming_session_id = v.incoming_session_id;
  outgoing_session_id = v.outgoing_session_id;
  mtu = std::min(mtu, std::clamp(v.mtu, kMinMtu, kMaxMtu));
  window_size = std::min(window_size, detail::clamp_window(v.window_size));
  remote_incoming_bandwidth = v.incoming_bandwidth;
  remote_outgoing_bandwidth = v.outgoing_bandwidth;
  notify_connect("verify_connect received");
  return Handled::kOk;
}

ConnectParams negotiate_verify(const ConnectParams& p, const PeerConfig& config, std::uint16_t peer_id,
                               std::uint8_t server_session, std::uint8_t client_session) noexcept {
  ConnectParams v;
  v.outgoing_peer_id = peer_id;
  v.incoming_session_id = server_session;
  v.outgoing_session_id = client_session;
  // 1.3.17 takes the client's MTU as is; capping it with ours is safe (the client adopts the
  // smaller value) and keeps our datagrams within what we are configured to send.
  v.mtu = std::min(std::clamp(p.mtu, kMinMtu, kMaxMtu), std::clamp(config.mtu, kMinMtu, kMaxMtu));
  v.window_size = detail::offered_window(config.incoming_bandwidth, p.window_size);
  v.channel_count = std::min(std::clamp(p.channel_count, kMinChannelCount, kMaxChannelCount),
                             std::max(config.channel_limit, kMinChannelCount));
  v.incoming_bandwidth = config.incoming_bandwidth;
  v.outgoing_bandwidth = config.outgoing_bandwidth;
  v.packet_throttle_interval = p.packet_throttle_interval;
  v.packet_throttle_acceleration = p.packet_throttle_acceleration;
  v.packet_throttle_deceleration = p.packet_throttle_deceleration;
  v.connect_id = p.connect_id;
  return v;
}

std::size_t encode_handshake_reply(const ConnectParams& connect, std::uint8_t session,
                                   std::uint16_t sent_time, const Command& command,
                                   const PeerConfig& config, MutableBytes out) noexcept {
  Header header;
  header.peer_id = static_cast<std::uint16_t>(connect.outgoing_peer_id & kMaxPeerId);
  header.session = static_cast<std::uint8_t>(session & kSessionMask);
  header.sent_time = sent_time;
  const std::size_t header_bytes = encode_header(header, config.checksum, out);
  if (header_bytes == 0) return 0;
  const std::size_t command_bytes = encode_command(command, out.subspan(header_bytes));
  if (command_bytes == 0) return 0;
  FinishOptions options;
  options.checksum = config.checksum;
  options.seed = connect.connect_id;
  options.compress = config.compress;
  return finish_datagram(out.first(header_bytes + command_bytes),
                         header_bytes - (config.checksum ? kChecksumSize : 0), options);
}

std::size_t encode_refusal(const ConnectRequest& request, std::uint32_t reason,
                           const PeerConfig& config, MutableBytes out) noexcept {
  Header header;
  header.peer_id = static_cast<std::uint16_t>(request.params.outgoing_peer_id & kMaxPeerId);
  const std::size_t header_bytes = encode_header(header, config.checksum, out);
  if (header_bytes == 0) return 0;
  const Command refusal{CommandHeader{CommandType::kDisconnect, false, true, kPeerLevelChannel, 1},
                        Disconnect{reason}};
  const std::size_t command_bytes = encode_command(refusal, out.subspan(header_bytes));
  if (command_bytes == 0) return 0;
  FinishOptions options;
  options.checksum = config.checksum;
  options.seed = request.params.connect_id;
  return finish_datagram(out.first(header_bytes + command_bytes),
                         header_bytes - (config.checksum ? kChecksumSize : 0), options);
}

}  // namespace volley::protocol
