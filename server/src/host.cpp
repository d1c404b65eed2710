// Host: routing (enet-protocol.md 1.5, 3.1, 3.4), the touched-peer service pass, and the one
// emit per batch. The only loops here run over the current batch, the touched list, the
// connected list (broadcast, by request) or, once, the whole table at shutdown.
#include "host.hpp"

#include <cstring>

namespace volley::server {

using protocol::PeerEvent;
using protocol::PeerState;

Host::Host(const HostConfig& config, TimerPort& timers, DatagramSink sink, HostEvents* events)
    : config_(config),
      slots_(config.max_peers, config.per_ip_cap, config.peer),
      deadlines_(timers),
      sink_(std::move(sink)),
      events_(events) {
  touched_.reserve(1024);
}

void Host::on_datagrams(TimePoint now, std::span<const engine::DatagramView> batch) {
  stats_.batches += 1;
  for (const engine::DatagramView& datagram : batch) route(now, datagram);
  service_touched(now);
  emit();
}

void Host::on_timer(TimePoint now, std::uint32_t slot) {
  deadlines_.fired(slot);
  stats_.timer_fires += 1;
  if (slot >= slots_.allocated() || !slots_[slot].live) return;
  Slot& s = slots_[slot];
  s.peer->on_deadline(now);
  touch(slot);
  service_touched(now);
  emit();
}

void Host::flush(TimePoint now) {
  service_touched(now);
  emit();
}

void Host::route(TimePoint now, const engine::DatagramView& datagram) {
  const Bytes bytes = datagram.bytes;
  const auto view = protocol::decode_header(bytes, config_.peer.checksum);
  if (!view.ok()) {
    stats_.drop(HostDrop::kTruncatedHeader);
    return;
  }
  // One form per remote: a dual-stack socket reports IPv4 senders as v4-mapped IPv6, and the
  // engine maps the other way again on send, so replies reach exactly the sending address.
  const engine::Address from = datagram.from.unmapped();
  const std::uint16_t id = view.value->header.peer_id;
  if (id == protocol::kMaxPeerId) {
    route_connect(now, from, bytes);
    return;
  }
  const auto slot = slots_.find(from, id);
  if (!slot) {
    // A peer we released moments ago: typically its DISCONNECT retransmitted before our ack
    // reached it (ENet's RTO on a LAN is ~5 ms). libenet drops these as well; they are late,
    // not bad, and are counted apart so unknown-peer drops keep meaning misrouted traffic.
    stats_.drop(slots_.departed(from, id, now) ? HostDrop::kDepartedPeer : HostDrop::kUnknownPeer);
    return;
  }
  Slot& s = slots_[*slot];
  s.peer->on_datagram(now, bytes);
  stats_.datagrams_routed += 1;
  touch(*slot);
}

void Host::route_connect(TimePoint now, const engine::Address& from, Bytes bytes) {
  const auto request = protocol::peek_connect(bytes, config_.peer);
  if (!request || request->params.channel_count < protocol::kMinChannelCount ||
      request->params.channel_count > protocol::kMaxChannelCount) {
    stats_.drop(HostDrop::kBadConnect);
    return;
  }
  std::uint32_t connect_id = 0;
  std::memcpy(&connect_id, request->params.connect_id.data(), sizeof(connect_id));
  if (slots_.holds_connect(from, connect_id)) {
    stats_.drop(HostDrop::kRetransmittedConnect);
    return;
  }
  if (!accepting_) {
    stats_.drop(HostDrop::kRefusedShutdown);
    refuse(*request, from, RefusalCode::kShuttingDown);
    return;
  }
  Acquired acquired = slots_.acquire(from, connect_id);
  if (acquired.error != AcquireError::kOk && !touched_.empty()) {
    // A peer earlier in this batch may just have left (a DISCONNECT ahead of this CONNECT);
    // its slot is released when it is serviced. Service now rather than refuse a client that
    // libenet, which frees slots between datagrams' events, would have let in on its retry.
    service_touched(now);
    acquired = slots_.acquire(from, connect_id);
  }
  if (acquired.error != AcquireError::kOk) {
    const bool per_ip = acquired.error == AcquireError::kPerIpCap;
    stats_.drop(per_ip ? HostDrop::kRefusedPerIp : HostDrop::kRefusedFull);
    refuse(*request, from, per_ip ? RefusalCode::kPerIp : RefusalCode::kFull);
    return;
  }
  Slot& s = slots_[acquired.slot];
  s.peer->on_datagram(now, bytes);
  stats_.datagrams_routed += 1;
  touch(acquired.slot);
}

void Host::refuse(const protocol::ConnectRequest& request, const engine::Address& to,
                  RefusalCode code) {
  if (!config_.fast_refusal) return;
  if (outbox_.full()) emit();
  const std::size_t n = protocol::encode_refusal(request, static_cast<std::uint32_t>(code), config_.peer,
                                                  outbox_.reserve());
  if (n == 0) return;
  outbox_.commit(n, to);
  stats_.refusals_sent += 1;
}

void Host::touch(std::uint32_t slot) {
  Slot& s = slots_[slot];
  if (s.touched) return;
  s.touched = true;
  touched_.push_back(slot);
}

void Host::service_touched(TimePoint now) {
  // Callbacks may touch more peers (a send to another peer); they join the end of the list.
  for (std::size_t i = 0; i < touched_.size(); ++i) service(now, touched_[i]);
  touched_.clear();
}

void Host::service(TimePoint now, std::uint32_t slot) {
  Slot& s = slots_[slot];
  stats_.peers_serviced += 1;
  if (!s.live) {
    s.touched = false;
    return;
  }
  drain_events(slot);
  protocol::Peer& peer = *s.peer;
  for (;;) {
    if (outbox_.full()) emit();
    const std::size_t n = peer.poll_datagram(now, outbox_.reserve());
    if (n == 0) break;
    outbox_.commit(n, s.address);
  }
  drain_events(slot);  // a reset inside the poll may leave a final event
  sync(s);
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
  deadlines_.update(slot, peer.next_deadline());
}

void Host::drain_events(std::uint32_t slot) {
  Slot& s = slots_[slot];
  const PeerHandle handle{slot, s.generation};
  while (auto event = s.peer->poll_event()) {
    switch (event->type) {
      case PeerEvent::Type::kConnect:
        slots_.mark_connected(slot);
        stats_.connects += 1;
        stats_.connected += 1;
        if (stats_.connected > stats_.connected_peak) stats_.connected_peak = stats_.connected;
        if (events_) events_->on_connect(handle, event->data);
        break;
      case PeerEvent::Type::kReceive:
        if (events_) events_->on_receive(handle, *event);
        break;
      case PeerEvent::Type::kDisconnect:
        if (s.connected) {
          slots_.mark_unconnected(slot);
          stats_.connected -= 1;
        }
        if (event->reason == protocol::DisconnectReason::kRemote) stats_.disconnects += 1;
        if (event->reason == protocol::DisconnectReason::kTimeout) stats_.timeouts += 1;
        if (event->reason == protocol::DisconnectReason::kLocal) stats_.local_disconnects += 1;
        if (events_) events_->on_disconnect(handle, event->reason, event->data);
        break;
    }
  }
}

void Host::emit() { outbox_.emit(sink_); }

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
  if (result == SendResult::kOk) touch(handle.index);
  else sync(*s);
  return result;
}

std::size_t Host::broadcast(std::uint8_t channel, Bytes payload, protocol::PacketFlags flags) {
  std::size_t accepted = 0;
  for (const std::uint32_t index : slots_.connected()) {
    Slot& s = slots_[index];
    if (s.peer->send(channel, payload, flags) == SendResult::kOk) {
      accepted += 1;
      touch(index);
    } else {
      sync(s);
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
    slots_[index].peer->disconnect(data);
    touch(index);
  });
}

}  // namespace volley::server
