// Peer: the public face of the state machine. Forwards to Peer::Impl (peer_impl.hpp), whose
// concerns live in their own files; the only logic here is event hand-off (a polled disconnect
// event completes the ZOMBIE -> DISCONNECTED reset, as enet_protocol_dispatch_incoming_commands
// does) and the knob setters with libenet's "0 means default" rule.
#include "volley/protocol/peer.hpp"

#include <utility>

#include "peer_impl.hpp"

namespace volley::protocol {

Peer::Peer(PeerRole role, std::uint16_t incoming_peer_id, const PeerConfig& config)
    : impl_(std::make_unique<Impl>(role, incoming_peer_id, config)) {}
Peer::~Peer() = default;
Peer::Peer(Peer&&) noexcept = default;
Peer& Peer::operator=(Peer&&) noexcept = default;

bool Peer::connect(TimePoint now, std::uint32_t channel_count, std::uint32_t data,
                   std::array<std::uint8_t, 4> connect_id) {
  return impl_->connect(now, channel_count, data, connect_id);
}

bool Peer::accept(TimePoint now, const ConnectRequest& request, const ConnectParams& verify,
                  std::uint16_t cookie_time, std::uint32_t rtt_sample_ms, Bytes datagram) {
  return impl_->accept(now, request, verify, cookie_time, rtt_sample_ms, datagram);
}

void Peer::on_datagram(TimePoint now, Bytes datagram) { impl_->on_datagram(now, datagram); }
void Peer::on_datagram(TimePoint now, Bytes datagram, const HeaderView& header, DatagramLifetime lifetime) {
  impl_->on_datagram(now, datagram, header, lifetime == DatagramLifetime::kUntilDrained);
}
bool Peer::on_datagram_direct(TimePoint now, Bytes datagram, const HeaderView& header, PeerEvent& packet) {
  return impl_->on_datagram(now, datagram, header, true, &packet);
}
void Peer::on_deadline(TimePoint now) { impl_->run_timers(now); }
std::size_t Peer::poll_datagram(TimePoint now, MutableBytes out) { return impl_->poll_datagram(now, out); }
bool Peer::poll_again() const noexcept { return impl_->poll_again; }
std::optional<TimePoint> Peer::next_deadline() const { return impl_->next_deadline(); }

bool Peer::has_events() const noexcept { return !impl_->events.empty(); }

// The flags an empty poll clears are required clear already, so skipping that poll leaves the
// peer exactly as the poll would.
bool Peer::settled(TimePoint now) const noexcept {
  const Impl& p = *impl_;
  return p.state == PeerState::kConnected && p.events.empty() && p.final_datagram.empty() &&
         !p.flush_pending && !p.continue_sending && p.nothing_to_send(now);
}

// A receive's bytes (`delivered`, measured before any move) go back to the budget, and a
// zombie's DISCONNECT, once taken, resets the peer.
void Peer::Impl::drop_front_event(std::size_t delivered) {
  const PeerEvent::Type type = events.front().type;
  if (type == PeerEvent::Type::kReceive) received.give_back(delivered);
  events.pop_front();
  front_in_use = false;
  if (type == PeerEvent::Type::kDisconnect && state == PeerState::kZombie) reset_state();
}

std::optional<PeerEvent> Peer::poll_event() {
  PeerEvent* front = peek_event();
  if (front == nullptr) return std::nullopt;
  const std::size_t delivered = front->bytes().size();
  std::optional<PeerEvent> event{std::move(*front)};
  impl_->drop_front_event(delivered);
  return event;
}

PeerEvent* Peer::peek_event() noexcept {
  Impl& p = *impl_;
  if (p.events.empty()) return nullptr;
  p.front_in_use = true;
  return &p.events.front();
}

PeerEvent* Peer::pop_event() {
  Impl& p = *impl_;
  if (p.events.empty()) return nullptr;
  PeerEvent& event = p.events.front();
  const std::size_t delivered = event.bytes().size();
  if (event.payload.capacity() != 0) recycle_payload(std::move(event.payload));
  p.drop_front_event(delivered);
  if (p.events.empty()) return nullptr;
  p.front_in_use = true;
  return &p.events.front();
}

// enet_peer_reset drops the packets it has not handed out (enet_peer_reset_queues), so the app
// hears nothing more from a peer it has reset. A front event being read in place (a server's
// receive callback that disconnects its own peer) stays until pop_event.
void Peer::Impl::drop_undelivered_events() {
  bool keep = front_in_use;
  events.erase_if([&](const PeerEvent& e) {
    if (std::exchange(keep, false)) return false;
    if (e.type == PeerEvent::Type::kReceive) received.give_back(e.bytes().size());
    return true;
  });
}

SendResult Peer::send(std::uint8_t channel, Bytes payload, PacketFlags flags) {
  return impl_->send(channel, payload, flags);
}
void Peer::disconnect(std::uint32_t data) { impl_->disconnect(data); }
void Peer::disconnect_later(std::uint32_t data) { impl_->disconnect_later(data); }

void Peer::disconnect_now(std::uint32_t data) {
  // No event follows a disconnect_now, not even one already pending for a ZOMBIE.
  impl_->drop_undelivered_events();
  impl_->disconnect_now(data);
}

void Peer::reset() {
  impl_->drop_undelivered_events();
  impl_->final_datagram.clear();
  impl_->reset_state();
}

void Peer::ping() {
  if (impl_->state != PeerState::kConnected) return;
  impl_->queue_protocol_command(CommandType::kPing, true, false, Ping{});
  impl_->counters.add(Counter::kPingsOut);
}

void Peer::set_ping_interval(std::uint32_t interval_ms) {
  impl_->ping_interval_ms = interval_ms ? interval_ms : impl_->config.ping_interval_ms;
}

void Peer::set_timeout(std::uint32_t limit, std::uint32_t minimum_ms, std::uint32_t maximum_ms) {
  detail::TimeoutLimits& t = impl_->timeouts;
  t.limit = limit ? limit : impl_->config.timeout_limit;
  t.minimum_ms = minimum_ms ? minimum_ms : impl_->config.timeout_minimum_ms;
  t.maximum_ms = maximum_ms ? maximum_ms : impl_->config.timeout_maximum_ms;
}

void Peer::throttle_configure(std::uint32_t interval_ms, std::uint32_t acceleration,
                              std::uint32_t deceleration) {
  Impl& p = *impl_;
  p.throttle.interval_ms = interval_ms;
  p.throttle.acceleration = acceleration;
  p.throttle.deceleration = deceleration;
  if (p.state == PeerState::kDisconnected || p.state == PeerState::kZombie) return;
  p.queue_protocol_command(CommandType::kThrottleConfigure, true, false,
                           ThrottleConfigure{interval_ms, acceleration, deceleration});
}

void Peer::bandwidth_limit(std::uint32_t incoming, std::uint32_t outgoing) {
  Impl& p = *impl_;
  p.config.incoming_bandwidth = incoming;
  p.config.outgoing_bandwidth = outgoing;
  if (p.state != PeerState::kConnected && p.state != PeerState::kDisconnectLater) return;
  p.window_size = detail::send_window_for(outgoing, p.remote_incoming_bandwidth);
  p.queue_protocol_command(CommandType::kBandwidthLimit, true, false, BandwidthLimit{incoming, outgoing});
}

void Peer::set_packet_throttle_limit(std::uint32_t limit) {
  Impl& p = *impl_;
  p.throttle.limit = std::min(limit, detail::kThrottleScale);
  p.throttle.throttle = std::min(p.throttle.throttle, p.throttle.limit);
}

PeerRole Peer::role() const noexcept { return impl_->role; }
PeerState Peer::state() const noexcept { return impl_->state; }
std::uint16_t Peer::incoming_peer_id() const noexcept { return impl_->incoming_peer_id; }
std::uint16_t Peer::outgoing_peer_id() const noexcept { return impl_->outgoing_peer_id; }
std::uint8_t Peer::incoming_session_id() const noexcept { return impl_->incoming_session_id; }
std::uint8_t Peer::outgoing_session_id() const noexcept { return impl_->outgoing_session_id; }
std::array<std::uint8_t, 4> Peer::connect_id() const noexcept { return impl_->connect_id; }
std::uint32_t Peer::mtu() const noexcept { return impl_->mtu; }
std::size_t Peer::channel_count() const noexcept { return impl_->channels.size(); }
const Counters& Peer::counters() const noexcept { return impl_->counters; }

void Peer::set_transition_observer(std::function<void(const StateTransition&)> observer) {
  impl_->observer = std::move(observer);
}

PeerStats Peer::stats() const noexcept {
  const Impl& p = *impl_;
  PeerStats s;
  s.rtt_ms = p.rtt.rtt_ms;
  s.rtt_variance_ms = p.rtt.variance_ms;
  s.lowest_rtt_ms = p.rtt.lowest_ms;
  s.highest_rtt_variance_ms = p.rtt.highest_variance_ms;
  s.last_rtt_ms = p.rtt.last_rtt_ms;
  s.last_rtt_variance_ms = p.rtt.last_variance_ms;
  s.packet_loss = p.packet_loss.loss();
  s.packet_loss_variance = p.packet_loss.variance();
  s.packet_throttle = p.throttle.throttle;
  s.packet_throttle_limit = p.throttle.limit;
  s.packet_throttle_interval_ms = p.throttle.interval_ms;
  s.packet_throttle_acceleration = p.throttle.acceleration;
  s.packet_throttle_deceleration = p.throttle.deceleration;
  s.remote_incoming_bandwidth = p.remote_incoming_bandwidth;
  s.remote_outgoing_bandwidth = p.remote_outgoing_bandwidth;
  s.window_size = p.window_size;
  s.mtu = p.mtu;
  s.reliable_data_in_transit = p.send_window.reliable_data_in_transit();
  s.channel_count = p.channels.size();
  s.queued_outgoing = p.send_window.outgoing().size();
  s.sent_unacked = p.send_window.sent().size();
  s.waiting_data = p.received.bytes();
  s.held_commands = p.received.held();
  s.queued_data = p.send_window.queued_bytes();
  return s;
}

}  // namespace volley::protocol
