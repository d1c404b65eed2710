// Host over stock libenet. Each ENet peer slot of the ENetHost has a Slot here (same index); the
// peer's `data` points at it, so events map to connections without a lookup.
#include "volley/client/host.hpp"

#include <enet/enet.h>  // first: on Windows it brings winsock2.h in the right order

#ifdef _WIN32
#include <ws2tcpip.h>
#else
#include <arpa/inet.h>
#endif

#include <algorithm>
#include <array>
#include <chrono>
#include <cstdlib>
#include <cstring>
#include <deque>
#include <optional>
#include <stdexcept>
#include <string>
#include <variant>
#include <vector>

#include "resolve.hpp"
#include "volley/protocol/datagram.hpp"
#include "volley/protocol/enet_wire.hpp"
#include "volley/client/address.hpp"

namespace volley::client {

namespace {

// enet_initialize once per process; deinitialized at exit (it only counts on Unix).
void ensure_enet_initialized() {
  static const bool ok = [] {
    if (enet_initialize() != 0) return false;
    std::atexit(enet_deinitialize);
    return true;
  }();
  if (!ok) throw std::runtime_error("volley::client: enet_initialize failed");
}

TimePoint steady_now() {
  return std::chrono::duration_cast<std::chrono::microseconds>(
             std::chrono::steady_clock::now().time_since_epoch())
      .count();
}

enet_uint32 packet_flags(Delivery delivery) {
  switch (delivery) {
    case Delivery::kReliable: return ENET_PACKET_FLAG_RELIABLE;
    case Delivery::kUnreliable: return 0;
    case Delivery::kUnsequenced: return ENET_PACKET_FLAG_UNSEQUENCED;
    case Delivery::kUnreliableFragment: return ENET_PACKET_FLAG_UNRELIABLE_FRAGMENT;
    case Delivery::kCount: break;
  }
  return ENET_PACKET_FLAG_RELIABLE;
}

// libenet marks a received packet with the command that carried it.
Delivery delivery_of(enet_uint32 flags) {
  if ((flags & ENET_PACKET_FLAG_RELIABLE) != 0) return Delivery::kReliable;
  if ((flags & ENET_PACKET_FLAG_UNSEQUENCED) != 0) return Delivery::kUnsequenced;
  if ((flags & ENET_PACKET_FLAG_UNRELIABLE_FRAGMENT) != 0) return Delivery::kUnreliableFragment;
  return Delivery::kUnreliable;
}

// The size libenet checks against the host's maximumPacketSize, or nullopt for a command that
// carries no packet: a fragment's whole packet (and the fragment), any other data command's payload.
std::optional<std::size_t> packet_size(const protocol::CommandBody& body) {
  if (const auto* f = std::get_if<protocol::SendFragment>(&body)) {
    return std::max<std::size_t>(f->total_length, f->payload.size());
  }
  if (const auto* r = std::get_if<protocol::SendReliable>(&body)) return r->payload.size();
  if (const auto* u = std::get_if<protocol::SendUnreliable>(&body)) return u->payload.size();
  if (const auto* q = std::get_if<protocol::SendUnsequenced>(&body)) return q->payload.size();
  return std::nullopt;
}

// What libenet will make of a datagram from a connection's remote, as far as this host tells:
// a DISCONNECT (libenet's disconnect event says the same for one and for a timeout), a command
// over the maximum packet size (libenet returns -1 for it and processes nothing after it in the
// datagram, so the walk stops there too), packet data before it. `seed` is the connection's CRC
// seed (libenet's peer->connectID) in checksum mode.
struct Scan {
  bool disconnect = false;
  bool oversize = false;
  bool data = false;
};

Scan scan_datagram(Bytes datagram, const protocol::OpenOptions& options,
                   const protocol::ChecksumSeed& seed, std::size_t max_packet_size) {
  Scan scan;
  std::array<std::uint8_t, protocol::kMaxDecompressedBody> scratch;
  const auto opened = protocol::open_datagram(datagram, options, seed, scratch);
  if (!opened.ok()) return scan;
  protocol::CommandReader reader(opened.value->commands, false);
  protocol::Command command;
  while (reader.next(command)) {
    if (command.header.type == protocol::CommandType::kDisconnect) scan.disconnect = true;
    const std::optional<std::size_t> size = packet_size(command.body);
    if (!size) continue;
    if (*size > max_packet_size) {
      scan.oversize = true;
      break;
    }
    scan.data = true;
  }
  return scan;
}

struct Counters {
  std::uint64_t packets_in = 0, packets_out = 0, bytes_in = 0, bytes_out = 0;
};

struct Sample {
  TimePoint time = 0;
  Counters counters;
};

enum class SlotState : std::uint8_t { kFree, kConnecting, kConnected, kDisconnecting };

struct Slot {
  std::uint32_t generation = 1;
  SlotState state = SlotState::kFree;
  TimePoint connect_deadline = 0;
  bool local = false;  // we asked to disconnect
  std::uint32_t local_data = 0;
  bool remote_disconnect = false;  // a DISCONNECT came from the remote (not a timeout)
  TimePoint wedged_since = 0;  // first seen stuck acknowledging a DISCONNECT (0: not)
  std::uint64_t dropped_oversize = 0, waiting_limit_datagrams = 0;  // ConnectionStats
  Counters counters;
  Sample older, newer;  // rate window samples
};

}  // namespace

std::string_view connect_error_name(ConnectError error) noexcept {
  switch (error) {
    case ConnectError::kOk: return "ok";
    case ConnectError::kMalformedAddress: return "malformed_address";
    case ConnectError::kUnresolvable: return "unresolvable";
    case ConnectError::kIpv6Unsupported: return "ipv6_unsupported";
    case ConnectError::kNoFreeSlot: return "no_free_slot";
    case ConnectError::kCount: break;
  }
  return "?";
}

std::string_view connect_error_text(ConnectError error) noexcept {
  switch (error) {
    case ConnectError::kOk: return "ok";
    case ConnectError::kMalformedAddress:
      return "malformed address: expected host:port, [ipv6]:port, port 1..65535";
    case ConnectError::kUnresolvable: return "unresolvable: the name has no address";
    case ConnectError::kIpv6Unsupported:
      return "IPv6 unsupported: stock libenet 1.3.x (no released version has IPv6) addresses "
             "IPv4 only; use an IPv4 address or a name with an IPv4 (A) record";
    case ConnectError::kNoFreeSlot: return "no free connection slot (HostOptions::max_connections)";
    case ConnectError::kCount: break;
  }
  return "?";
}

struct Host::Impl {
  HostOptions options;
  ENetHost* host = nullptr;
  std::vector<Slot> slots;
  std::deque<Event> pending;  // events made here: disconnect_now, our connect timeout
  TimePoint next_wedge_check = 0;  // end_wedged_disconnects()
  ENetPacket* held = nullptr;  // the packet of the last kReceived event
  std::size_t connecting = 0;
  std::size_t live = 0;
  std::size_t drained = 0;  // events poll() returned since it last returned false
  HostCounters counters;

  // Runs inside enet_host_service for every datagram: notes a DISCONNECT from a connection's
  // remote (only its address counts: a third party naming our peer id is not the server).
  static int ENET_CALLBACK intercept(ENetHost* host, ENetEvent*) {
    if (host->receivedDataLength < 2) return 0;
    const enet_uint16 raw =
        static_cast<enet_uint16>((host->receivedData[0] << 8) | host->receivedData[1]);
    const enet_uint16 peer_id =
        raw & static_cast<enet_uint16>(~(ENET_PROTOCOL_HEADER_FLAG_MASK |
                                         ENET_PROTOCOL_HEADER_SESSION_MASK));
    if (peer_id >= host->peerCount) return 0;
    ENetPeer& peer = host->peers[peer_id];
    if (peer.data == nullptr || peer.address.host != host->receivedAddress.host ||
        peer.address.port != host->receivedAddress.port) {
      return 0;
    }
    // libenet drops a datagram whose session is not the connection's (enet_protocol_handle_
    // incoming_commands); so must we, or a forged DISCONNECT that libenet ignored turned the
    // timeout that followed into a remote disconnect.
    const auto session = static_cast<enet_uint8>((raw & ENET_PROTOCOL_HEADER_SESSION_MASK) >>
                                                 ENET_PROTOCOL_HEADER_SESSION_SHIFT);
    if (peer.state == ENET_PEER_STATE_DISCONNECTED || peer.state == ENET_PEER_STATE_ZOMBIE ||
        (peer.outgoingPeerID < ENET_PROTOCOL_MAXIMUM_PEER_ID && session != peer.incomingSessionID)) {
      return 0;
    }
    auto* slot = static_cast<Slot*>(peer.data);
    const protocol::OpenOptions options{host->checksum != nullptr, host->compressor.context != nullptr};
    protocol::ChecksumSeed seed{};  // libenet seeds the CRC with connectID as it lies in memory
    std::memcpy(seed.data(), &peer.connectID, seed.size());
    const Scan scan = scan_datagram(Bytes(host->receivedData, host->receivedDataLength), options,
                                    seed, host->maximumPacketSize);
    slot->remote_disconnect = slot->remote_disconnect || scan.disconnect;
    slot->dropped_oversize += scan.oversize ? 1 : 0;
    // libenet refuses each new packet while the undelivered ones are at the limit (enet_peer_
    // queue_incoming_command); they only shrink as poll() takes them, never inside this datagram.
    if (scan.data && peer.totalWaitingData >= host->maximumWaitingData) ++slot->waiting_limit_datagrams;
    return 0;  // libenet processes it as usual
  }

  Slot* resolve(ConnectionId id) {
    if (!id || id.index >= slots.size()) return nullptr;
    Slot& slot = slots[id.index];
    if (slot.state == SlotState::kFree || slot.generation != id.generation) return nullptr;
    return &slot;
  }
  ENetPeer* peer_of(ConnectionId id) { return &host->peers[id.index]; }
  ConnectionId id_of(const Slot& slot) const {
    return {static_cast<std::uint32_t>(&slot - slots.data()), slot.generation};
  }

  void release(Slot& slot) {
    if (slot.state == SlotState::kConnecting) --connecting;
    host->peers[&slot - slots.data()].data = nullptr;
    slot.state = SlotState::kFree;
    if (++slot.generation == 0) slot.generation = 1;
    --live;
  }

  void queue_disconnected(Slot& slot, DisconnectReason reason, std::uint32_t data) {
    Event event;
    event.type = EventType::kDisconnected;
    event.connection = id_of(slot);
    event.reason = reason;
    event.data = data;
    pending.push_back(event);
    release(slot);
  }

  // libenet 1.3.17 takes a reliable DISCONNECT whose datagram has no sent time (none of its
  // own peers sends one; a forger does) into ACKNOWLEDGING_DISCONNECT but cannot queue its ACK,
  // so the peer waits there forever: no event, no timeout (its queues were cleared). A real
  // DISCONNECT leaves that state within the same service call. One held for over a second ends
  // as the remote disconnect it was. Checked every 100 ms, over the slots.
  void end_wedged_disconnects(TimePoint now) {
    if (live == 0 || now < next_wedge_check) return;
    next_wedge_check = now + 100 * kMillisecond;
    for (Slot& slot : slots) {
      if (slot.state == SlotState::kFree) continue;
      ENetPeer& peer = host->peers[&slot - slots.data()];
      if (peer.state != ENET_PEER_STATE_ACKNOWLEDGING_DISCONNECT) {
        slot.wedged_since = 0;
      } else if (slot.wedged_since == 0) {
        slot.wedged_since = now;
      } else if (now - slot.wedged_since >= kSecond) {
        const std::uint32_t data = peer.eventData;
        const bool local = slot.local;
        const std::uint32_t local_data = slot.local_data;
        enet_peer_reset(&peer);
        queue_disconnected(slot, local ? DisconnectReason::kLocal : DisconnectReason::kRemote, local ? local_data : data);
      }
    }
  }

  // Ends connections whose connect timeout passed; returns the earliest deadline still ahead.
  std::optional<TimePoint> expire_connects(TimePoint now) {
    if (connecting == 0) return std::nullopt;
    std::optional<TimePoint> earliest;
    for (Slot& slot : slots) {
      if (slot.state != SlotState::kConnecting) continue;
      if (now >= slot.connect_deadline) {
        enet_peer_reset(&host->peers[&slot - slots.data()]);
        queue_disconnected(slot, DisconnectReason::kTimeout, 0);
      } else if (!earliest || slot.connect_deadline < *earliest) {
        earliest = slot.connect_deadline;
      }
    }
    return earliest;
  }

  // poll() without its drain budget.
  bool next_event(Event& event, std::uint32_t wait_ms) {
    const TimePoint now = steady_now();
    end_wedged_disconnects(now);
    if (const auto deadline = expire_connects(now)) {  // do not sleep past a timeout
      const auto until = static_cast<std::uint32_t>((*deadline - now + kMillisecond - 1) / kMillisecond);
      wait_ms = std::min(wait_ms, until);
    }
    if (pending.empty()) {
      ENetEvent in{};
      int result = enet_host_service(host, &in, wait_ms);
      // Events of no connection (stale after disconnect_now) are skipped; the queue is finite.
      while (result > 0) {
        if (translate(in, event)) {
          event.time = steady_now();
          return true;
        }
        result = enet_host_service(host, &in, 0);
      }
      return false;
    }
    event = pending.front();
    pending.pop_front();
    event.time = steady_now();
    return true;
  }

  // Turns a libenet event into ours; false for one that belongs to no connection.
  bool translate(const ENetEvent& in, Event& out) {
    auto* slot = in.peer != nullptr ? static_cast<Slot*>(in.peer->data) : nullptr;
    if (slot == nullptr) {
      if (in.type == ENET_EVENT_TYPE_RECEIVE) enet_packet_destroy(in.packet);
      return false;
    }
    out = Event{};
    out.connection = id_of(*slot);
    switch (in.type) {
      case ENET_EVENT_TYPE_CONNECT:
        if (slot->state != SlotState::kConnecting) return false;
        --connecting;
        slot->state = SlotState::kConnected;
        out.type = EventType::kConnected;
        return true;
      case ENET_EVENT_TYPE_RECEIVE:
        held = in.packet;
        out.type = EventType::kReceived;
        out.channel = in.channelID;
        out.delivery = delivery_of(in.packet->flags);
        out.bytes = Bytes(in.packet->data, in.packet->dataLength);
        ++slot->counters.packets_in;
        slot->counters.bytes_in += in.packet->dataLength;
        return true;
      case ENET_EVENT_TYPE_DISCONNECT: {
        out.type = EventType::kDisconnected;
        const bool remote = slot->remote_disconnect;
        if (slot->local) {
          out.reason = DisconnectReason::kLocal;
          out.data = slot->local_data;
        } else if (slot->state == SlotState::kConnecting) {
          out.reason = remote ? DisconnectReason::kRefused : DisconnectReason::kTimeout;
          out.data = in.data;
        } else {
          out.reason = remote ? DisconnectReason::kRemote : DisconnectReason::kTimeout;
          out.data = in.data;
        }
        release(*slot);
        return true;
      }
      case ENET_EVENT_TYPE_NONE: break;
    }
    return false;
  }
};

Host::Host(const HostOptions& options) : impl_(std::make_unique<Impl>()) {
  ensure_enet_initialized();
  if (options.max_connections == 0 || options.max_connections > ENET_PROTOCOL_MAXIMUM_PEER_ID ||
      options.channels == 0 || options.channels > ENET_PROTOCOL_MAXIMUM_CHANNEL_COUNT ||
      options.max_packet_size == 0 || options.max_waiting_data == 0) {
    throw std::runtime_error("volley::client: HostOptions out of range: max_connections must be 1..4095, channels 1..255, "
                             "max_packet_size and max_waiting_data at least 1");
  }
  impl_->options = options;
  impl_->host = enet_host_create(nullptr, options.max_connections, options.channels,
                                 options.incoming_bandwidth, options.outgoing_bandwidth);
  if (impl_->host == nullptr) throw std::runtime_error("volley::client: enet_host_create failed");
  impl_->host->maximumPacketSize = options.max_packet_size;
  impl_->host->maximumWaitingData = options.max_waiting_data;
  if (options.checksum) impl_->host->checksum = enet_crc32;
  if (options.range_coder && enet_host_compress_with_range_coder(impl_->host) != 0) {
    enet_host_destroy(impl_->host);
    throw std::runtime_error("volley::client: range coder setup failed");
  }
  impl_->host->intercept = &Impl::intercept;
  impl_->slots.resize(options.max_connections);
}

Host::~Host() {
  if (impl_->held != nullptr) enet_packet_destroy(impl_->held);
  for (std::size_t i = 0; i < impl_->slots.size(); ++i) {
    if (impl_->slots[i].state != SlotState::kFree) enet_peer_reset(&impl_->host->peers[i]);
  }
  enet_host_destroy(impl_->host);
}

namespace {

struct Target {
  ConnectError error = ConnectError::kOk;
  ENetAddress address{};
};

// The one reading of an address string, for connect() and resolve_address().
Target enet_target(std::string_view address) {
  const std::optional<Endpoint> endpoint = parse_endpoint(address);
  if (!endpoint) return {ConnectError::kMalformedAddress};
  Target target;
  target.address.port = endpoint->port;
  if (endpoint->bracketed) {
    in6_addr v6{};
    if (inet_pton(AF_INET6, endpoint->host.c_str(), &v6) != 1) return {ConnectError::kMalformedAddress};
    if (!IN6_IS_ADDR_V4MAPPED(&v6)) return {ConnectError::kIpv6Unsupported};
    std::memcpy(&target.address.host, &v6.s6_addr[12], 4);  // network order, as ENetAddress keeps it
  } else {
    const detail::Resolved resolved = detail::resolve_ipv4(endpoint->host);
    if (resolved.error != ConnectError::kOk) return {resolved.error};
    target.address.host = resolved.ipv4;
  }
  return target;
}

}  // namespace

ResolvedAddress resolve_address(std::string_view address) {
  const Target target = enet_target(address);
  if (target.error != ConnectError::kOk) return {target.error, {}};
  char text[INET_ADDRSTRLEN] = {};
  in_addr v4{};
  std::memcpy(&v4, &target.address.host, 4);
  inet_ntop(AF_INET, &v4, text, sizeof(text));
  return {ConnectError::kOk, std::string(text) + ":" + std::to_string(target.address.port)};
}

ConnectResult Host::connect(std::string_view address, std::uint32_t data) {
  const Target resolved = enet_target(address);
  if (resolved.error != ConnectError::kOk) return {{}, resolved.error};
  ENetAddress target = resolved.address;
  if (impl_->live == impl_->slots.size()) return {{}, ConnectError::kNoFreeSlot};
  ENetPeer* peer = enet_host_connect(impl_->host, &target, impl_->options.channels, data);
  if (peer == nullptr) return {{}, ConnectError::kNoFreeSlot};
  Slot& slot = impl_->slots[static_cast<std::size_t>(peer - impl_->host->peers)];
  const std::uint32_t generation = slot.generation;
  slot = Slot{};
  slot.generation = generation;
  slot.state = SlotState::kConnecting;
  const TimePoint now = steady_now();
  slot.connect_deadline = now + impl_->options.connect_timeout;
  slot.older.time = slot.newer.time = now;
  peer->data = &slot;
  enet_peer_timeout(peer, impl_->options.timeout_limit, impl_->options.timeout_minimum_ms,
                    impl_->options.timeout_maximum_ms);
  ++impl_->connecting;
  ++impl_->live;
  return {impl_->id_of(slot), ConnectError::kOk};
}

SendResult Host::send(ConnectionId connection, std::uint8_t channel, Bytes bytes,
                      Delivery delivery) {
  if (!is_delivery(delivery)) return SendResult::kBadDelivery;
  Slot* slot = impl_->resolve(connection);
  if (slot == nullptr) return SendResult::kNoSuchPeer;
  if (slot->state != SlotState::kConnected) return SendResult::kNotConnected;
  ENetPeer* peer = impl_->peer_of(connection);
  if (channel >= peer->channelCount) return SendResult::kBadChannel;
  if (bytes.size() > impl_->host->maximumPacketSize) return SendResult::kTooLarge;
  ENetPacket* packet = enet_packet_create(bytes.data(), bytes.size(), packet_flags(delivery));
  if (packet == nullptr) return SendResult::kTooLarge;
  if (enet_peer_send(peer, channel, packet) != 0) {
    enet_packet_destroy(packet);
    return SendResult::kTooManyFragments;
  }
  ++slot->counters.packets_out;
  slot->counters.bytes_out += bytes.size();
  return SendResult::kOk;
}

void Host::disconnect(ConnectionId connection, std::uint32_t data) {
  Slot* slot = impl_->resolve(connection);
  if (slot == nullptr || slot->state == SlotState::kDisconnecting) return;
  if (slot->state == SlotState::kConnecting) {  // libenet would reset it silently
    disconnect_now(connection, data);
    return;
  }
  slot->state = SlotState::kDisconnecting;
  slot->local = true;
  slot->local_data = data;
  enet_peer_disconnect(impl_->peer_of(connection), data);
}

void Host::disconnect_later(ConnectionId connection, std::uint32_t data) {
  Slot* slot = impl_->resolve(connection);
  if (slot == nullptr || slot->state == SlotState::kDisconnecting) return;
  if (slot->state == SlotState::kConnecting) {
    disconnect_now(connection, data);
    return;
  }
  slot->state = SlotState::kDisconnecting;
  slot->local = true;
  slot->local_data = data;
  enet_peer_disconnect_later(impl_->peer_of(connection), data);
}

void Host::disconnect_now(ConnectionId connection, std::uint32_t data) {
  Slot* slot = impl_->resolve(connection);
  if (slot == nullptr) return;
  enet_peer_disconnect_now(impl_->peer_of(connection), data);
  impl_->queue_disconnected(*slot, DisconnectReason::kLocal, data);
}

bool Host::poll(Event& event, std::uint32_t wait_ms) {
  if (impl_->held != nullptr) {
    enet_packet_destroy(impl_->held);
    impl_->held = nullptr;
  }
  const std::size_t budget = impl_->options.max_events_per_drain;
  if (budget != 0 && impl_->drained >= budget) {  // the rest in the next drain
    impl_->drained = 0;
    ++impl_->counters.drains_cut;
    return false;
  }
  const bool got = impl_->next_event(event, wait_ms);
  impl_->drained = got ? impl_->drained + 1 : 0;
  return got;
}

void Host::flush() { enet_host_flush(impl_->host); }

bool Host::connected(ConnectionId connection) const noexcept {
  const Slot* slot = impl_->resolve(connection);
  return slot != nullptr && slot->state == SlotState::kConnected;
}

std::optional<ConnectionStats> Host::stats(ConnectionId connection) {
  Slot* slot = impl_->resolve(connection);
  if (slot == nullptr) return std::nullopt;
  const ENetPeer* peer = impl_->peer_of(connection);
  ConnectionStats stats;
  stats.rtt_ms = peer->roundTripTime;
  stats.rtt_variance_ms = peer->roundTripTimeVariance;
  stats.packet_loss = static_cast<double>(peer->packetLoss) /
                      static_cast<double>(ENET_PEER_PACKET_LOSS_SCALE);
  stats.throttle = static_cast<double>(peer->packetThrottle) /
                   static_cast<double>(ENET_PEER_PACKET_THROTTLE_SCALE);
  stats.channels = peer->channelCount;
  stats.dropped_oversize = slot->dropped_oversize;
  stats.waiting_limit_datagrams = slot->waiting_limit_datagrams;
  const Counters& now_counters = slot->counters;
  stats.packets_in = now_counters.packets_in;
  stats.packets_out = now_counters.packets_out;
  stats.bytes_in = now_counters.bytes_in;
  stats.bytes_out = now_counters.bytes_out;
  // Two samples: the rate runs from the older one, between one and two windows back.
  const TimePoint now = steady_now();
  if (now - slot->newer.time >= impl_->options.stats_window) {
    slot->older = slot->newer;
    slot->newer = {now, now_counters};
  }
  const double seconds = static_cast<double>(now - slot->older.time) / kSecond;
  if (seconds > 0) {
    const Counters& then = slot->older.counters;
    stats.packets_in_per_s = static_cast<double>(now_counters.packets_in - then.packets_in) / seconds;
    stats.packets_out_per_s =
        static_cast<double>(now_counters.packets_out - then.packets_out) / seconds;
    stats.bytes_in_per_s = static_cast<double>(now_counters.bytes_in - then.bytes_in) / seconds;
    stats.bytes_out_per_s = static_cast<double>(now_counters.bytes_out - then.bytes_out) / seconds;
  }
  return stats;
}

HostCounters Host::counters() const noexcept { return impl_->counters; }

std::size_t Host::connection_count() const noexcept { return impl_->live; }

std::uint16_t Host::local_port() const noexcept {
  ENetAddress address{};
  if (enet_socket_get_address(impl_->host->socket, &address) != 0) return 0;
  return address.port;
}

}  // namespace volley::client
