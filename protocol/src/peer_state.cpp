// Connection states, transitions, reset and the local disconnect variants. Mirrors enet.h
// ENetPeerState, peer.c enet_peer_reset / enet_peer_reset_queues / enet_peer_disconnect*, and
// protocol.c enet_protocol_notify_connect / _notify_disconnect. The table of states and
// transitions lives in docs/peer-states.md; every change goes through change_state() so an
// observer can check the live machine against that table.
#include <utility>

#include "peer_impl.hpp"

namespace volley::protocol {

std::string_view peer_state_name(PeerState state) noexcept {
  switch (state) {
    case PeerState::kDisconnected: return "DISCONNECTED";
    case PeerState::kConnecting: return "CONNECTING";
    case PeerState::kAcknowledgingConnect: return "ACKNOWLEDGING_CONNECT";
    case PeerState::kConnectionPending: return "CONNECTION_PENDING";
    case PeerState::kConnectionSucceeded: return "CONNECTION_SUCCEEDED";
    case PeerState::kConnected: return "CONNECTED";
    case PeerState::kDisconnectLater: return "DISCONNECT_LATER";
    case PeerState::kDisconnecting: return "DISCONNECTING";
    case PeerState::kAcknowledgingDisconnect: return "ACKNOWLEDGING_DISCONNECT";
    case PeerState::kZombie: return "ZOMBIE";
    case PeerState::kCount: break;
  }
  return "?";
}

void Peer::Impl::change_state(PeerState to, std::string_view cause) {
  const PeerState from = state;
  state = to;
  if (observer && from != to) observer(StateTransition{from, to, cause});
}

bool Peer::Impl::is_live() const {
  return state != PeerState::kDisconnected && state != PeerState::kZombie;
}

void Peer::Impl::reset_queues() {
  acks.clear();
  send_window.clear_queues();
  // libenet frees the channels here (channelCount = 0): later data commands fail the channel
  // check. Delivered-but-unpolled events stay: a server may hand them to the app first.
  channels.clear();
  received.clear_held();
  std::size_t undelivered = 0;
  for (const auto& event : events)
    if (event.type == PeerEvent::Type::kReceive) undelivered += event.bytes().size();
  received.reset_to(undelivered);
  continue_sending = false;
}

void Peer::Impl::reset_state() {
  reset_queues();
  if (state != PeerState::kDisconnected) change_state(PeerState::kDisconnected, "reset");
  outgoing_peer_id = kMaxPeerId;
  connect_id = {};
  event_data = 0;
  mtu = config.mtu;
  window_size = kMaxWindowSize;
  remote_incoming_bandwidth = 0;
  remote_outgoing_bandwidth = 0;
  ping_interval_ms = config.ping_interval_ms;
  timeouts = detail::TimeoutLimits{config.timeout_limit, config.timeout_minimum_ms, config.timeout_maximum_ms,
                                    config.rto_cap_ms};
  rtt = detail::RttState{};
  throttle = detail::ThrottleState{};
  throttle.interval_ms = config.throttle_interval_ms;
  throttle.acceleration = config.throttle_acceleration;
  throttle.deceleration = config.throttle_deceleration;
  last_receive_time.reset();
  last_heard_time.reset();
  handshake_cookie_time.reset();
  packet_loss.reset();
  send_window.reset();
  unsequenced_window.reset();
}

void Peer::Impl::notify_connect(std::string_view cause) {
  change_state(PeerState::kConnected, cause);
  PeerEvent event;
  event.type = PeerEvent::Type::kConnect;
  event.data = event_data;
  events.push_back(std::move(event));
}

void Peer::Impl::enter_zombie(DisconnectReason reason, std::uint32_t data, std::string_view cause) {
  change_state(PeerState::kZombie, cause);
  PeerEvent event;
  event.type = PeerEvent::Type::kDisconnect;
  event.data = data;
  event.reason = reason;
  events.push_back(std::move(event));
}

// enet_protocol_notify_disconnect: a connection the app never saw ends silently; any other
// raises a disconnect event with data 0.
void Peer::Impl::notify_disconnect(DisconnectReason reason, std::string_view cause) {
  if (state != PeerState::kConnecting && state < PeerState::kConnectionSucceeded) {
    reset_state();
    return;
  }
  enter_zombie(reason, 0, cause);
}

void Peer::Impl::disconnect(std::uint32_t data) {
  if (state == PeerState::kDisconnecting || state == PeerState::kDisconnected ||
      state == PeerState::kAcknowledgingDisconnect || state == PeerState::kZombie)
    return;
  const bool graceful = state == PeerState::kConnected || state == PeerState::kDisconnectLater;
  reset_queues();
  queue_protocol_command(CommandType::kDisconnect, graceful, !graceful, Disconnect{data});
  if (graceful) {
    change_state(PeerState::kDisconnecting, "disconnect");
    return;
  }
  // Not yet connected: one unacknowledged DISCONNECT, flushed at once, then a silent reset.
  final_datagram.resize(kMaxMtu);
  final_datagram.resize(build_final_datagram(final_datagram));
  reset_state();
}

void Peer::Impl::disconnect_now(std::uint32_t data) {
  if (state == PeerState::kDisconnected) return;
  if (state != PeerState::kZombie && state != PeerState::kDisconnecting) {
    reset_queues();
    queue_protocol_command(CommandType::kDisconnect, false, true, Disconnect{data});
    final_datagram.resize(kMaxMtu);
    final_datagram.resize(build_final_datagram(final_datagram));
  }
  reset_state();
}

void Peer::Impl::disconnect_later(std::uint32_t data) {
  if ((state == PeerState::kConnected || state == PeerState::kDisconnectLater) &&
      !send_window.idle()) {
    change_state(PeerState::kDisconnectLater, "disconnect_later");
    event_data = data;
    return;
  }
  disconnect(data);
}

}  // namespace volley::protocol
