// The sans-IO ENet 1.3.17 peer: one connection's state machine, in either role. Bytes and `now`
// go in; datagrams, events and the next deadline come out. No sockets, threads or clock reads.
// A server Host routes a datagram by (address, 12-bit peer id, session) to the slot's Peer, and
// for a CONNECT (peer id 0xFFF) calls peek_connect() to choose a slot first. States and
// transitions: docs/peer-states.md. Behaviour: shared docs/enet-protocol.md.
#pragma once

#include <array>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string_view>
#include <vector>

#include "volley/protocol/counters.hpp"
#include "volley/protocol/enet_wire.hpp"
#include "volley/protocol/peer_config.hpp"
#include "volley/protocol/time.hpp"
#include "volley/vocabulary/delivery.hpp"

namespace volley::protocol {

enum class PeerRole : std::uint8_t { kClient, kServer };

// enet.h ENetPeerState, same order.
enum class PeerState : std::uint8_t {
  kDisconnected,
  kConnecting,
  kAcknowledgingConnect,
  kConnectionPending,
  kConnectionSucceeded,
  kConnected,
  kDisconnectLater,
  kDisconnecting,
  kAcknowledgingDisconnect,
  kZombie,
  kCount
};
std::string_view peer_state_name(PeerState state) noexcept;

// ENet packet flags (enet.h ENetPacketFlag) that steer the choice of command.
enum class PacketFlags : std::uint8_t {
  kUnreliable = 0,
  kReliable = 1,
  kUnsequenced = 2,
  kUnreliableFragment = 8,
};
constexpr PacketFlags operator|(PacketFlags a, PacketFlags b) noexcept {
  return static_cast<PacketFlags>(static_cast<std::uint8_t>(a) | static_cast<std::uint8_t>(b));
}
constexpr bool has_flag(PacketFlags set, PacketFlags flag) noexcept {
  return (static_cast<std::uint8_t>(set) & static_cast<std::uint8_t>(flag)) != 0;
}

// The command flags that send a packet the way `delivery` names (a received packet reports the
// command that carried it as its Delivery).
constexpr PacketFlags packet_flags(Delivery delivery) noexcept {
  switch (delivery) {
    case Delivery::kReliable: return PacketFlags::kReliable;
    case Delivery::kUnsequenced: return PacketFlags::kUnsequenced;
    case Delivery::kUnreliableFragment: return PacketFlags::kUnreliableFragment;
    default: return PacketFlags::kUnreliable;
  }
}

// Shared words (volley/vocabulary): Delivery, DisconnectReason (kRemote: data = the remote's
// data word; kRefused: DISCONNECT while CONNECTING, data = a RefusalCode), SendResult (a Peer
// answers kOk, kNotConnected, kBadChannel, kTooLarge, kTooManyFragments or kQueueFull).
using volley::Delivery;
using volley::delivery_name;
using volley::DisconnectReason;
using volley::disconnect_reason_name;
using volley::RefusalCode;
using volley::refusal_code_name;
using volley::SendResult;

struct PeerEvent {
  enum class Type : std::uint8_t { kConnect, kReceive, kDisconnect };
  Type type = Type::kReceive;
  std::uint32_t data = 0;  // connect / disconnect data word
  DisconnectReason reason = DisconnectReason::kRemote;
  std::uint8_t channel = 0;
  Delivery delivery = Delivery::kReliable;
  std::vector<std::uint8_t> payload;
  // Set instead of `payload` for a receive delivered straight from a datagram that its caller
  // keeps until the events are taken (DatagramLifetime::kUntilDrained): the bytes are viewed
  // in that datagram, not copied, at whatever offset it has there (no alignment: copy before
  // reading FlatBuffers or other structures in place). Read a receive through bytes(), which
  // covers both.
  Bytes borrowed;

  Bytes bytes() const noexcept { return borrowed.data() != nullptr ? borrowed : Bytes(payload); }
};

// How long the bytes handed to Peer::on_datagram stay valid. kCall: only during the call; every
// received payload is copied. kUntilDrained: until the caller has taken every event the call
// queued (poll_event() until has_events() is false; other calls on the Peer meanwhile are fine,
// it never reads a borrowed payload itself); a packet delivered at once (the next in order, or
// unsequenced, not fragmented, not range-coded) then comes as PeerEvent::borrowed. A server
// Host drains each peer it routed a batch to before the batch's buffers go back to the kernel.
enum class DatagramLifetime : std::uint8_t { kCall, kUntilDrained };

// A received payload (PeerEvent::payload) handed back once consumed: later deliveries and sends
// on this thread reuse its buffer instead of allocating (per-thread pool, bounded). Optional:
// a payload not given back is simply freed.
void recycle_payload(std::vector<std::uint8_t>&& payload) noexcept;

struct PeerStats {
  std::uint32_t rtt_ms = 0;
  std::uint32_t rtt_variance_ms = 0;
  std::uint32_t lowest_rtt_ms = 0;
  std::uint32_t highest_rtt_variance_ms = 0;
  std::uint32_t last_rtt_ms = 0;
  std::uint32_t last_rtt_variance_ms = 0;
  std::uint32_t packet_loss = 0;  // scale 65536 (ENET_PEER_PACKET_LOSS_SCALE)
  std::uint32_t packet_loss_variance = 0;
  std::uint32_t packet_throttle = 0;  // 0..32
  std::uint32_t packet_throttle_limit = 0;
  std::uint32_t packet_throttle_interval_ms = 0;
  std::uint32_t packet_throttle_acceleration = 0;
  std::uint32_t packet_throttle_deceleration = 0;
  std::uint32_t remote_incoming_bandwidth = 0;  // as declared by the remote (CONNECT / VERIFY / 8A)
  std::uint32_t remote_outgoing_bandwidth = 0;
  std::uint32_t window_size = 0;
  std::uint32_t mtu = 0;
  std::uint32_t reliable_data_in_transit = 0;
  std::size_t channel_count = 0;
  std::size_t queued_outgoing = 0;  // commands not yet sent
  std::size_t sent_unacked = 0;     // reliable commands awaiting an ACK
  std::size_t waiting_data = 0;     // undelivered received payload bytes
  std::size_t held_commands = 0;    // received out of order, held until the gap fills
  std::size_t queued_data = 0;      // bytes counted against PeerConfig::max_queued_data
};

// A CONNECT seen by a server before it picks a slot (enet_protocol_handle_connect's inputs).
struct ConnectRequest {
  ConnectParams params;
  std::uint32_t data = 0;
};

// Decodes a datagram addressed to peer id 0xFFF far enough to read its CONNECT: header,
// range decoding and CRC (seed 0) per `config`. nullopt for anything else.
std::optional<ConnectRequest> peek_connect(Bytes datagram, const PeerConfig& config) noexcept;

// Fast refusal (enet-protocol.md 3.5, not done by libenet): one DISCONNECT (44 FF, RSN 1)
// carrying `reason`, addressed to the CONNECT's client slot with session 0 and no sentTime, CRC
// seeded with the connectID in checksum mode. A CONNECTING stock client reports a disconnect
// with data = reason at once. Needs no server slot. Returns the datagram length (0 if `out` is
// too small).
std::size_t encode_refusal(const ConnectRequest& request, std::uint32_t reason,
                           const PeerConfig& config, MutableBytes out) noexcept;

// --- the server's stateless handshake (server/src/handshake_table.hpp, docs/handshake.md) -----
// A server Host may answer CONNECTs without a Peer: it keeps the CONNECT in a small half-open
// entry, replies with a VERIFY_CONNECT whose header sent time, peer id and session carry a keyed
// cookie, and builds the Peer (accept()) only when the client's ACK echoes all of it.

// The VERIFY_CONNECT fields answering `connect` (enet-protocol.md 3.1 steps 4, 7-9 and 3.2):
// `peer_id` is the id the client will address; `server_session` goes into the headers we send,
// `client_session` into the headers the client sends.
ConnectParams negotiate_verify(const ConnectParams& connect, const PeerConfig& config, std::uint16_t peer_id,
                               std::uint8_t server_session, std::uint8_t client_session) noexcept;

// One datagram to the client slot that sent `connect`: header (its outgoingPeerID, `session`,
// `sent_time`), one `command`, CRC seeded with the connectID in checksum mode, range-coded when
// config.compress and that is shorter. Returns its length (0 if `out` is too small).
std::size_t encode_handshake_reply(const ConnectParams& connect, std::uint8_t session, std::uint16_t sent_time,
                                   const Command& command, const PeerConfig& config, MutableBytes out) noexcept;

// A datagram addressed to a handshake in progress: opened (range decoding, CRC with `seed`), and
// searched for the client's ACK of our peer-level RSN 1, whose echoed sent time is the cookie.
struct HandshakeAck {
  enum class Status : std::uint8_t { kBadDatagram, kNoAck, kAck };
  Status status = Status::kBadDatagram;
  std::uint16_t echoed_sent_time = 0;
};
HandshakeAck peek_handshake_ack(Bytes datagram, const PeerConfig& config, const ChecksumSeed& seed) noexcept;

struct StateTransition {
  PeerState from;
  PeerState to;
  std::string_view cause;
};

class Peer {
 public:
  // `incoming_peer_id` is this peer's own slot index (< 0xFFF): the id the remote puts in headers.
  Peer(PeerRole role, std::uint16_t incoming_peer_id, const PeerConfig& config = {});
  ~Peer();
  Peer(Peer&&) noexcept;
  Peer& operator=(Peer&&) noexcept;

  // --- client role -------------------------------------------------------------------------
  // enet_host_connect: queues CONNECT. `connect_id` is opaque (libenet: ++host->randomSeed).
  bool connect(TimePoint now, std::uint32_t channel_count, std::uint32_t data,
               std::array<std::uint8_t, 4> connect_id);

  // --- server role, stateless handshake ---------------------------------------------------------
  // The client proved its address by acknowledging a VERIFY_CONNECT (`verify`, from
  // negotiate_verify(request.params, ...)) that the Host sent for this free server-role peer:
  // the peer takes verify's id and sessions and starts CONNECTED (connect event queued) as
  // handle_connect and that ACK would leave it. The first RTT sample is `rtt_sample_ms`, measured
  // by the Host from its own record of the send time, since the echoed time is the cookie.
  // Then `datagram`, the proving one, is processed as usual (its ACK echoing `cookie_time` is
  // consumed; a piggy-backed PING is acked). False, changing nothing, if the peer is not free.
  bool accept(TimePoint now, const ConnectRequest& request, const ConnectParams& verify,
              std::uint16_t cookie_time, std::uint32_t rtt_sample_ms, Bytes datagram);

  // --- both roles --------------------------------------------------------------------------
  // A whole UDP datagram from the remote. A free server-role peer accepts a CONNECT here.
  void on_datagram(TimePoint now, Bytes datagram);
  // The same with its header already decoded by the caller (decode_header with this peer's
  // checksum mode, as a server Host does to route): the header is not decoded twice.
  void on_datagram(TimePoint now, Bytes datagram, const HeaderView& header,
                   DatagramLifetime lifetime = DatagramLifetime::kCall);
  // The same with DatagramLifetime::kUntilDrained, for a caller that hands a packet on as soon
  // as it has it: the next in order on its channel, in a datagram read in place, with no event
  // queued ahead of it, is written to `packet` (as PeerEvent::borrowed, its payload left alone)
  // instead of queued, and true returned. Hand it on before taking this peer's events; every
  // other packet is queued as usual, behind it.
  bool on_datagram_direct(TimePoint now, Bytes datagram, const HeaderView& header, PeerEvent& packet);
  // Runs due timers (retransmission / timeout). Safe to call at any time.
  void on_deadline(TimePoint now);
  // Next datagram to send (acks first), or 0 when nothing is due. Call until it returns 0, or
  // until poll_again() says the next call would. `out` should hold at least mtu() bytes (4096
  // always suffices).
  std::size_t poll_datagram(TimePoint now, MutableBytes out);
  // Right after a poll_datagram that returned a datagram, with no other call between: false when
  // a second poll at the same time would return 0. The empty poll that ends every pass costs as
  // much as a keepalive check; a server polling thousands of peers skips it.
  bool poll_again() const noexcept;
  // True when a CONNECTED peer has no event queued and poll_datagram(now) would return 0 and
  // change nothing: a caller may then skip both (what follows a datagram carrying only ACKs).
  bool settled(TimePoint now) const noexcept;
  std::optional<PeerEvent> poll_event();
  // Whether poll_event() has anything: lets a caller skip building an empty optional.
  bool has_events() const noexcept;
  // The oldest event, read in place (nullptr when none), then removed by pop_event(), which
  // returns the next one: what poll_event() does without moving the event out. pop_event()
  // hands an owned payload to recycle_payload(), so leave the event as it is. The pointer stays
  // valid across send(), disconnect() and disconnect_later() (a callback may answer the packet
  // it reads), and across disconnect_now() and reset(), which drop every event not yet handed
  // out (as enet_peer_reset does) but keep this one until pop_event(). Any other call may queue
  // or drop events and invalidates it.
  PeerEvent* peek_event() noexcept;
  PeerEvent* pop_event();
  // When on_deadline / poll_datagram next has work that no input will trigger.
  std::optional<TimePoint> next_deadline() const;

  SendResult send(std::uint8_t channel, Bytes payload, PacketFlags flags);
  void disconnect(std::uint32_t data);        // enet_peer_disconnect
  void disconnect_later(std::uint32_t data);  // enet_peer_disconnect_later
  // Both drop the events not yet handed out: after them the app hears nothing from this peer.
  void disconnect_now(std::uint32_t data);    // enet_peer_disconnect_now: one datagram, then reset
  void reset();                               // enet_peer_reset: silent; keeps the session IDs
  void ping();                                // enet_peer_ping

  // --- per-peer knobs (restored from PeerConfig by every reset, as in libenet) ---------------
  void set_ping_interval(std::uint32_t interval_ms);  // 0 = default
  void set_timeout(std::uint32_t limit, std::uint32_t minimum_ms, std::uint32_t maximum_ms);
  void throttle_configure(std::uint32_t interval_ms, std::uint32_t acceleration,
                          std::uint32_t deceleration);  // also sends THROTTLE_CONFIGURE
  void bandwidth_limit(std::uint32_t incoming, std::uint32_t outgoing);  // sends BANDWIDTH_LIMIT
  void set_packet_throttle_limit(std::uint32_t limit);  // host bandwidth throttle hook (0..32)

  // --- observation ---------------------------------------------------------------------------
  PeerRole role() const noexcept;
  PeerState state() const noexcept;
  std::uint16_t incoming_peer_id() const noexcept;
  std::uint16_t outgoing_peer_id() const noexcept;  // 0xFFF until known
  std::uint8_t incoming_session_id() const noexcept;
  std::uint8_t outgoing_session_id() const noexcept;
  std::array<std::uint8_t, 4> connect_id() const noexcept;
  std::uint32_t mtu() const noexcept;
  std::size_t channel_count() const noexcept;
  PeerStats stats() const noexcept;
  const Counters& counters() const noexcept;
  // Observer for every state change (conformance tests compare it with docs/peer-states.md).
  void set_transition_observer(std::function<void(const StateTransition&)> observer);

 private:
  struct Impl;
  friend struct PeerInternals;  // white-box tests (tests/peer) reach Impl through it; no definition here
  std::unique_ptr<Impl> impl_;
};

}  // namespace volley::protocol
