// Host: routing (enet-protocol.md 1.5, 3.1, 3.4), the touched-peer service pass, and the one
// emit per batch. The only loops here run over the current batch, the touched list, the
// connected list (broadcast, by request) or, once, the whole table at shutdown.
#include "host.hpp"

#include <cstring>

#include "siphash.hpp"

namespace volley::server {

namespace {

std::uint32_t connect_id_of(const protocol::ConnectRequest& request) {
  std::uint32_t id = 0;
  std::memcpy(&id, request.params.connect_id.data(), sizeof(id));
  return id;
}

// The index seed: from the Host's secret key, but not equal to any value derived for cookies.
std::uint64_t slot_seed(const SipKey& key) {
  constexpr std::uint8_t kLabel[] = {'p', 'e', 'e', 'r', '-', 's', 'l', 'o', 't', 's'};
  return siphash24(key, kLabel);
}

protocol::PeerConfig with_shared_waiting(protocol::PeerConfig config, protocol::SharedBudget& total) {
  config.shared_waiting = &total;
  return config;
}

}  // namespace

using protocol::PeerEvent;
using protocol::PeerState;

Host::Host(const HostConfig& config, TimerPort& timers, DatagramSink sink, HostEvents* events)
    : config_(config),
      waiting_total_{0, config.max_waiting_total},
      slots_(config.max_peers, config.per_ip_cap, with_shared_waiting(config.peer, waiting_total_),
             slot_seed(config.handshake_key)),
      deadlines_(timers),
      sink_(std::move(sink)),
      events_(events),
      half_open_(config.handshake.half_open_entries, config.handshake.entry_lifetime, config.handshake_key),
      limiter_(config.handshake.replies, config.handshake.replies_per_ip, config.handshake.reply_buckets,
               config.handshake_key),
      cookie_key_(config.handshake_key) {}

void Host::on_datagrams(TimePoint now, std::span<const engine::DatagramView> batch) {
  stats_.batches += 1;
  for (const engine::DatagramView& datagram : batch) route(now, datagram);
  service_touched(now);
  emit();
}

void Host::refresh_table_sizes() const noexcept {
  stats_.handshake.half_open = half_open_.size();
  stats_.handshake.evicted = half_open_.evicted();
  stats_.handshake.expired = half_open_.expired();
  stats_.departed_ids = slots_.departed_count();
  stats_.per_ip_addresses = slots_.per_ip_addresses();
  stats_.slots_allocated = slots_.allocated();
}

void Host::on_timer(TimePoint now, std::uint32_t slot) {
  deadlines_.fired(slot);
  stats_.timer_fires += 1;
  if (slot >= slots_.allocated() || !slots_[slot].live) return;
  Slot& s = slots_[slot];
  if (!s.touched) {
    // A timer fires early when its peer's deadline moved later (Deadlines); nothing is due yet.
    const std::optional<TimePoint> next = s.peer->next_deadline();
    if (!next || *next > now) {
      stats_.timer_fires_early += 1;
      deadlines_.update(slot, next, now);
      return;
    }
  }
  s.peer->on_deadline(now);
  touch(slot);
  service_touched(now);
  emit();
}

void Host::flush(TimePoint now) {
  // Nothing touched since the last batch, timer or flush (the Server flushes after each of
  // them): nothing to service or emit.
  if (!flush_pending()) return;
  service_touched(now);
  emit();
}

void Host::route(TimePoint now, const engine::DatagramView& datagram) {
  const Bytes bytes = datagram.bytes;
  protocol::HeaderView view;
  if (protocol::decode_header(bytes, config_.peer.checksum, view) != protocol::DecodeError::kCount) {
    stats_.drop(HostDrop::kTruncatedHeader);
    return;
  }
  // The sender packed once: a v4-mapped IPv6 sender (a dual-stack socket's view of an IPv4
  // client) packs as its IPv4 address, so the lookup needs no unmapped copy of the Address.
  const PackedAddress key = PackedAddress::of(datagram.from);
  const std::uint16_t id = view.header.peer_id;
  const auto slot = id == protocol::kMaxPeerId ? std::nullopt : slots_.find(key, id);
  if (!slot) {
    // One form per remote: the engine maps the other way again on send, so replies reach
    // exactly the sending address.
    const engine::Address from = datagram.from.unmapped();
    if (id == protocol::kMaxPeerId) {
      route_connect(now, from, key, bytes);
      return;
    }
    if (route_half_open(now, from, view.header, bytes)) return;
    // A peer we released moments ago: typically its DISCONNECT retransmitted before our ack
    // reached it (ENet's RTO on a LAN is ~5 ms). libenet drops these as well; they are late,
    // not bad, and are counted apart so unknown-peer drops keep meaning misrouted traffic.
    stats_.drop(slots_.departed(key, id, now) ? HostDrop::kDepartedPeer : HostDrop::kUnknownPeer);
    return;
  }
  Slot& s = slots_[*slot];
  // The batch outlives the service pass at the end of on_datagrams(), which drains every peer
  // routed to here: payloads delivered at once are viewed in the batch, not copied. The next
  // packet in order, read in place with nothing queued ahead of it, goes to the application
  // now rather than through the peer's event queue.
  stats_.datagrams_routed += 1;
  // A callback that ends this peer (even one that flushes the Host, which releases the slot)
  // leaves it unsettled: the service pass below finds it gone or finishes it.
  if (s.peer->on_datagram_direct(now, bytes, view, direct_) && events_)
    events_->on_receive(PeerHandle{*slot, s.generation}, direct_);
  // Nothing to deliver or send (a datagram of ACKs only, the second of a reliable echo's two):
  // no service pass, only the deadline the ACKs moved.
  if (!s.touched && s.peer->settled(now)) {
    deadlines_.update(*slot, s.peer->next_deadline(), now);
    return;
  }
  touch(*slot, s);
}

// A CONNECT (enet-protocol.md 3.1) creates at most a half-open entry and one reply of no more
// bytes than the CONNECT itself; no Peer exists before the client proves its address.
void Host::route_connect(TimePoint now, const engine::Address& from, const PackedAddress& key, Bytes bytes) {
  const auto request = protocol::peek_connect(bytes, config_.peer);
  if (!request) {
    stats_.drop(HostDrop::kBadConnect);
    return;
  }
  // A count within [1, 255] is then capped at HostConfig::peer.channel_limit (negotiate_verify).
  if (request->params.channel_count < protocol::kMinChannelCount ||
      request->params.channel_count > protocol::kMaxChannelCount) {
    stats_.drop(HostDrop::kBadChannelCount);
    return;
  }
  std::uint32_t connect_id = 0;
  std::memcpy(&connect_id, request->params.connect_id.data(), sizeof(connect_id));
  if (slots_.holds_connect(key, connect_id)) {
    stats_.drop(HostDrop::kRetransmittedConnect);
    return;
  }
  if (!accepting_) {
    stats_.drop(HostDrop::kRefusedShutdown);
    refuse(now, *request, from, RefusalCode::kShuttingDown);
    return;
  }
  if (HalfOpen* entry = half_open_.find_connect(now, from, connect_id)) {
    // Resent: the VERIFY (or its ACK) was lost. The same reply again, cookie and all.
    if (reply(now, *entry, verify_command(*entry), bytes.size())) stats_.handshake.verifies_resent += 1;
    return;
  }
  AcquireError capacity = slots_.can_acquire(key);
  if (capacity != AcquireError::kOk && touched_size_ != 0) {
    // A peer earlier in this batch may just have left (a DISCONNECT ahead of this CONNECT);
    // its slot is released when it is serviced. Service now rather than refuse a client that
    // libenet, which frees slots between datagrams' events, would have let in on its retry.
    service_touched(now);
    capacity = slots_.can_acquire(key);
  }
  if (capacity != AcquireError::kOk) {
    const bool per_ip = capacity == AcquireError::kPerIpCap;
    stats_.drop(per_ip ? HostDrop::kRefusedPerIp : HostDrop::kRefusedFull);
    refuse(now, *request, from, per_ip ? RefusalCode::kPerIp : RefusalCode::kFull);
    return;
  }
  // The budget is checked before an entry is made: a flood beyond it costs no table space.
  if (limited(now, from)) return;
  // The session of our datagrams to the client: one past what its previous connection used
  // (enet-protocol.md 3.1 step 6, without a slot's memory), so its stale datagrams stay apart.
  const std::uint8_t previous = request->params.incoming_session_id;
  const auto server_session = static_cast<std::uint8_t>(previous == 0xFF ? 0 : (previous + 1) & 3);
  // Uncompressed, the VERIFY_CONNECT is always 4 bytes shorter than the CONNECT. Range-coded,
  // the cookie's random bits make it 1-2 bytes longer for about 0.3% of stock CONNECTs: then the
  // next cookie variant is tried (deterministically, so a resent CONNECT still gets the same).
  for (std::uint8_t variant = 0; variant < kCookieVariants; ++variant) {
    const Cookie cookie = make_cookie(cookie_key_, from, request->params.connect_id, now, variant);
    const auto id = pick_id(now, from, key, cookie.peer_id);
    if (!id) {
      stats_.drop(HostDrop::kAddressFull);
      return;
    }
    HalfOpen candidate;
    candidate.address = from;
    candidate.request = *request;
    candidate.peer_id = *id;
    candidate.cookie_time = cookie.sent_time;
    // As libenet does, never the session the client used last time (it says so in the CONNECT),
    // so its stale datagrams cannot pass for new ones: 3 values, not 4, when it reconnects.
    candidate.client_session = cookie.client_session == request->params.outgoing_session_id
                                   ? static_cast<std::uint8_t>((cookie.client_session + 1) & 3)
                                   : cookie.client_session;
    candidate.server_session = server_session;
    const bool last = variant + 1 == kCookieVariants;
    // Encoded before an entry exists, so a CONNECT that gets no reply takes no table space.
    if (!reply(now, candidate, verify_command(candidate), bytes.size(), /*limit_checked=*/true,
               /*count_too_large=*/last))
      continue;
    HalfOpen& entry = half_open_.insert(now, from, connect_id, *id);
    entry.request = candidate.request;
    entry.cookie_time = candidate.cookie_time;
    entry.client_session = candidate.client_session;
    entry.server_session = candidate.server_session;
    entry.last_sent = candidate.last_sent;
    stats_.handshake.entries_created += 1;
    stats_.handshake.verifies_sent += 1;
    if (half_open_.size() > stats_.handshake.half_open_peak) stats_.handshake.half_open_peak = half_open_.size();
    return;
  }
}

// The cookie's id, unless a live peer, another handshake or (while any other id is free) a
// recently departed peer of the same address holds it: then the next free one. The entry keeps
// the id it got, so the ACK's check does not depend on who holds what by then.
std::optional<std::uint16_t> Host::pick_id(TimePoint now, const engine::Address& from, const PackedAddress& key,
                                           std::uint16_t wanted) {
  for (const bool skip_departed : {true, false}) {
    std::uint16_t id = wanted;
    for (std::uint16_t tried = 0; tried < kIdsPerAddress; ++tried) {
      if (!slots_.find(key, id) && !half_open_.find_id(now, from, id) &&
          !(skip_departed && slots_.departed(key, id, now)))
        return id;
      id = static_cast<std::uint16_t>((id + 1) % kIdsPerAddress);
    }
  }
  return std::nullopt;
}

bool Host::route_half_open(TimePoint now, const engine::Address& from, const protocol::Header& header,
                           Bytes bytes) {
  HalfOpen* entry = half_open_.find_id(now, from, header.peer_id);
  if (entry == nullptr) return false;
  if (header.session != entry->client_session) {
    // 14 bits of the cookie ride in every client header; a mismatch is a guess. The entry goes,
    // so each guess costs the guesser a CONNECT through the reply budget.
    half_open_.erase(*entry);
    stats_.drop(HostDrop::kHandshakeWrongCookie);
    return true;
  }
  const protocol::HandshakeAck ack = protocol::peek_handshake_ack(bytes, config_.peer, entry->request.params.connect_id);
  switch (ack.status) {
    case protocol::HandshakeAck::Status::kBadDatagram:
      stats_.drop(HostDrop::kHandshakeBadDatagram);
      return true;
    case protocol::HandshakeAck::Status::kNoAck:
      // The client has our VERIFY (it knows the id and session) but its ACK was lost: it sends
      // PINGs or data now. A small PING carrying the cookie as its sent time makes it ack again.
      if (reply(now, *entry, probe_command(), bytes.size())) stats_.handshake.probes_sent += 1;
      return true;
    case protocol::HandshakeAck::Status::kAck:
      break;
  }
  if (ack.echoed_sent_time != entry->cookie_time) {
    half_open_.erase(*entry);
    stats_.drop(HostDrop::kHandshakeWrongCookie);
    return true;
  }
  Acquired acquired = slots_.acquire(from, connect_id_of(entry->request), entry->peer_id);
  if (acquired.error != AcquireError::kOk && touched_size_ != 0) {
    service_touched(now);  // as in route_connect: a peer may have left earlier in this batch
    acquired = slots_.acquire(from, connect_id_of(entry->request), entry->peer_id);
  }
  if (acquired.error != AcquireError::kOk) {
    // Filled up since the VERIFY went out. The client believes it is connected, so the refusal
    // carries its session (a CONNECTING client would skip that check, a connected one does not).
    const bool per_ip = acquired.error == AcquireError::kPerIpCap;
    stats_.drop(per_ip ? HostDrop::kRefusedPerIp : HostDrop::kRefusedFull);
    const RefusalCode code = per_ip ? RefusalCode::kPerIp : RefusalCode::kFull;
    if (config_.fast_refusal && reply(now, *entry, refusal_command(code), bytes.size()))
      stats_.refusals_sent += 1;
    half_open_.erase(*entry);
    return true;
  }
  const protocol::ConnectRequest request = entry->request;
  const protocol::ConnectParams verify = verify_params(*entry);
  const std::uint16_t cookie_time = entry->cookie_time;
  // The first RTT sample: from our own record of the latest reply, not from the echoed cookie.
  const auto rtt_ms = static_cast<std::uint32_t>((now - entry->last_sent) / volley::kMillisecond);
  half_open_.erase(*entry);
  Slot& s = slots_[acquired.slot];
  s.peer->accept(now, request, verify, cookie_time, rtt_ms, bytes);
  stats_.handshake.completed += 1;
  stats_.datagrams_routed += 1;
  touch(acquired.slot);
  return true;
}

protocol::ConnectParams Host::verify_params(const HalfOpen& entry) const {
  return protocol::negotiate_verify(entry.request.params, config_.peer, entry.peer_id, entry.server_session,
                                    entry.client_session);
}

bool Host::limited(TimePoint now, const engine::Address& to) {
  switch (limiter_.take(now, to)) {
    case Limited::kNo: return false;
    case Limited::kAddress: stats_.drop(HostDrop::kHandshakeRateAddress); return true;
    case Limited::kGlobal: stats_.drop(HostDrop::kHandshakeRateGlobal); return true;
  }
  return true;
}

bool Host::reply(TimePoint now, HalfOpen& entry, const protocol::Command& command, std::size_t request_bytes,
                 bool limit_checked, bool count_too_large) {
  if (!limit_checked && limited(now, entry.address)) return false;
  if (outbox_.full()) emit();
  const std::size_t n = protocol::encode_handshake_reply(entry.request.params, entry.server_session,
                                                         entry.cookie_time, command, config_.peer, outbox_.reserve());
  if (n == 0) return false;
  if (n > request_bytes) {
    // Before the proof a reply never outweighs its request: no amplification for a spoofer.
    if (count_too_large) stats_.drop(HostDrop::kHandshakeReplyTooLarge);
    return false;
  }
  outbox_.commit(n, entry.address);
  entry.last_sent = now;
  return true;
}

protocol::Command Host::verify_command(const HalfOpen& entry) const {
  return protocol::Command{protocol::CommandHeader{protocol::CommandType::kVerifyConnect, true, false,
                                                   protocol::kPeerLevelChannel, 1},
                           protocol::VerifyConnect{verify_params(entry)}};
}

protocol::Command Host::probe_command() {
  // Reliable, so the client acks it; RSN 1 and the cookie as sent time, so that ACK reads
  // exactly like the lost ACK of the VERIFY_CONNECT.
  return protocol::Command{
      protocol::CommandHeader{protocol::CommandType::kPing, true, false, protocol::kPeerLevelChannel, 1},
      protocol::Ping{}};
}

protocol::Command Host::refusal_command(RefusalCode code) {
  return protocol::Command{
      protocol::CommandHeader{protocol::CommandType::kDisconnect, false, true, protocol::kPeerLevelChannel, 1},
      protocol::Disconnect{static_cast<std::uint32_t>(code)}};
}

void Host::refuse(TimePoint now, const protocol::ConnectRequest& request, const engine::Address& to,
                  RefusalCode code) {
  if (!config_.fast_refusal) return;
  if (limited(now, to)) return;
  if (outbox_.full()) emit();
  const std::size_t n = protocol::encode_refusal(request, static_cast<std::uint32_t>(code), config_.peer,
                                                  outbox_.reserve());
  if (n == 0) return;
  outbox_.commit(n, to);
  stats_.refusals_sent += 1;
}

void Host::grow_touched() { touched_.resize(touched_.size() * 2); }

void Host::service_touched(TimePoint now) {
  // Callbacks may touch more peers (a send to another peer); they join the end of the list.
  for (std::size_t i = 0; i < touched_size_; ++i) service(now, touched_[i]);
  touched_size_ = 0;
}

void Host::service(TimePoint now, std::uint32_t slot) {
  Slot& s = slots_[slot];
  stats_.peers_serviced += 1;
  if (!s.live) {
    s.touched = false;
    return;
  }
  drain_events(slot, s);
  protocol::Peer& peer = *s.peer;
  for (;;) {
    if (outbox_.full()) emit();
    const std::size_t n = peer.poll_datagram(now, outbox_.reserve());
    if (n == 0) break;
    outbox_.commit(n, s.address);
    if (!peer.poll_again()) break;
  }
  drain_events(slot, s);  // a reset inside the poll may leave a final event
  // Cleared only now: a send to this peer from its own callbacks was polled above, while a send
  // from a later peer's callback puts it back on the list.
  s.touched = false;
  if (peer.state() == PeerState::kDisconnected) {
    if (s.connected) {
      slots_.mark_unconnected(slot);
      stats_.connected -= 1;
    }
    deadlines_.clear(slot);
    slots_.release(slot, now);
    return;
  }
  deadlines_.update(slot, peer.next_deadline(), now);
}

// A receive is read where the Peer queued it and popped after its callback (which recycles an
// owned payload), not moved out: the service pass takes one per echoed packet. A connect or
// disconnect is popped before its callback, which may end the peer (disconnect_now drops
// pending DISCONNECT events).
void Host::take_events(std::uint32_t slot, Slot& s) {
  const PeerHandle handle{slot, s.generation};
  protocol::Peer& peer = *s.peer;
  protocol::PeerEvent* event = peer.peek_event();
  while (event != nullptr) {
    const PeerEvent::Type type = event->type;
    const std::uint32_t data = event->data;
    const protocol::DisconnectReason reason = event->reason;
    if (type == PeerEvent::Type::kReceive) {
      if (events_) events_->on_receive(handle, *event);
      event = peer.pop_event();
      continue;
    }
    // Taken whole, not popped: pop_event would mark the next event as read in place while this
    // callback runs, and a disconnect_now in it must drop that one too.
    peer.poll_event();
    if (type == PeerEvent::Type::kConnect) {
      slots_.mark_connected(slot);
      stats_.connects += 1;
      stats_.connected += 1;
      if (stats_.connected > stats_.connected_peak) stats_.connected_peak = stats_.connected;
      if (events_) events_->on_connect(handle, data);
      event = peer.peek_event();  // looked up again: the callback may have changed the queue
      continue;
    }
    if (s.connected) {
      slots_.mark_unconnected(slot);
      stats_.connected -= 1;
    }
    if (reason == protocol::DisconnectReason::kRemote) stats_.disconnects += 1;
    if (reason == protocol::DisconnectReason::kTimeout) stats_.timeouts += 1;
    if (reason == protocol::DisconnectReason::kLocal) stats_.local_disconnects += 1;
    if (events_) events_->on_disconnect(handle, reason, data);
    event = peer.peek_event();
  }
}

void Host::emit() { outbox_.emit(sink_); }

const HostStats& Host::stats() const noexcept {
  // Pooled Peers are never destroyed and keep their counters across reuse, so the sum over the
  // slots is every peer call since the Host began. No per-slot copy, no per-service-pass sync.
  refresh_table_sizes();
  stats_.peers.clear();
  for (std::uint32_t i = 0; i < slots_.allocated(); ++i) {
    if (slots_[i].peer) add_counters(slots_[i].peer->counters(), stats_.peers);
  }
  return stats_;
}

Slot* Host::resolve(PeerHandle handle) {
  if (handle.generation == 0 || handle.index >= slots_.allocated()) return nullptr;
  Slot& s = slots_[handle.index];
  if (!s.live || s.generation != handle.generation) return nullptr;
  return &s;
}

const protocol::Peer* Host::peer(PeerHandle handle) const {
  auto* self = const_cast<Host*>(this);
  const Slot* s = self->resolve(handle);
  return s ? &*s->peer : nullptr;
}

const engine::Address* Host::address(PeerHandle handle) const {
  auto* self = const_cast<Host*>(this);
  const Slot* s = self->resolve(handle);
  return s ? &s->address : nullptr;
}

SendResult Host::send(PeerHandle handle, std::uint8_t channel, Bytes payload,
                               protocol::PacketFlags flags) {
  Slot* s = resolve(handle);
  if (s == nullptr) return SendResult::kNoSuchPeer;
  const SendResult result = s->peer->send(channel, payload, flags);
  if (result == SendResult::kOk) touch(handle.index, *s);
  return result;
}

std::size_t Host::broadcast(std::uint8_t channel, Bytes payload, protocol::PacketFlags flags) {
  std::size_t accepted = 0;
  for (const std::uint32_t index : slots_.connected()) {
    Slot& s = slots_[index];
    if (s.peer->send(channel, payload, flags) == SendResult::kOk) {
      accepted += 1;
      touch(index, s);
    }
  }
  return accepted;
}

bool Host::disconnect(PeerHandle handle, std::uint32_t data, DisconnectMode mode) {
  Slot* s = resolve(handle);
  if (s == nullptr) return false;
  switch (mode) {
    case DisconnectMode::kNormal: s->peer->disconnect(data); break;
    case DisconnectMode::kLater: s->peer->disconnect_later(data); break;
    case DisconnectMode::kNow: s->peer->disconnect_now(data); break;
  }
  touch(handle.index);
  return true;
}

void Host::disconnect_all(std::uint32_t data) {
  slots_.for_each_live([&](std::uint32_t index) {
    protocol::Peer& peer = *slots_[index].peer;
    // What is queued for a peer goes out first (libenet's disconnect would discard it: a
    // "server closing" sent just before stop() was lost), and a peer the app already let go
    // with disconnect_later keeps its own data word.
    if (peer.state() != PeerState::kDisconnectLater) peer.disconnect_later(data);
    touch(index);
  });
}

}  // namespace volley::server
