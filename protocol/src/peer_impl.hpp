// Internal state of a Peer, shared by the peer_*.cpp / receive / send translation units. Each
// member function is defined in the file of its concern: peer_state.cpp (states, reset, events),
// reliable_send.cpp (numbering, sent list, RTO and timeouts), outbound.cpp (datagram assembly),
// inbound.cpp (header pipeline and command handlers), receive_channel.cpp (ordering and
// delivery), fragments.cpp (split and reassembly). Lists are std::list so commands move between
// the outgoing and sent queues by splice, as libenet moves its list nodes, without allocation.
#pragma once

#include <array>
#include <cstdint>
#include <functional>
#include <list>
#include <memory>
#include <optional>
#include <vector>

#include "fifo.hpp"
#include "peer_timers.hpp"
#include "seq.hpp"
#include "rtt.hpp"
#include "throttle.hpp"
#include "volley/protocol/peer.hpp"

namespace volley::protocol::detail {

using SharedPayload = std::shared_ptr<const std::vector<std::uint8_t>>;

struct OutgoingCommand {
  CommandHeader header;
  CommandBody body;           // payload spans point into `packet`
  SharedPayload packet;       // null for protocol commands
  std::uint32_t fragment_offset = 0;
  std::uint16_t fragment_length = 0;
  std::uint16_t unreliable_sequence = 0;
  std::uint32_t send_attempts = 0;
  std::optional<TimePoint> sent_time;
  std::optional<std::uint32_t> rto_ms;  // fixed at first send, then only doubled
  std::uint32_t rto_limit_ms = 0;
};

struct IncomingCommand {
  CommandType type = CommandType::kSendReliable;
  std::uint16_t reliable_sequence = 0;
  std::uint16_t unreliable_sequence = 0;
  std::uint32_t fragment_count = 0;
  std::uint32_t fragments_remaining = 0;
  std::vector<std::uint32_t> fragment_bits;
  std::vector<std::uint8_t> data;
};

struct Channel {
  std::uint16_t outgoing_reliable_sequence = 0;
  std::uint16_t outgoing_unreliable_sequence = 0;
  std::uint16_t incoming_reliable_sequence = 0;
  std::uint16_t incoming_unreliable_sequence = 0;
  std::uint16_t used_reliable_windows = 0;
  std::array<std::uint16_t, 16> reliable_windows{};
  std::list<IncomingCommand> incoming_reliable;
  std::list<IncomingCommand> incoming_unreliable;
};

struct PendingAck {
  std::uint8_t channel = 0;
  std::uint16_t reliable_sequence = 0;
  std::uint16_t sent_time = 0;
  CommandType type = CommandType::kPing;
};

using UnsequencedWindow = std::array<std::uint32_t, kUnsequencedWindowWords>;

// Outcome of a receive handler: libenet's 0 (keep parsing) or -1 (stop the datagram).
enum class Handled : std::uint8_t { kOk, kStop };

}  // namespace volley::protocol::detail

namespace volley::protocol {

using detail::Handled;

struct Peer::Impl {
  using OutList = std::list<detail::OutgoingCommand>;

  Impl(PeerRole r, std::uint16_t id, const PeerConfig& c) : role(r), incoming_peer_id(id), config(c) {
    reset_state();
  }

  // --- identity and configuration (survive reset) --------------------------------------------
  PeerRole role;
  std::uint16_t incoming_peer_id;
  PeerConfig config;
  std::uint8_t incoming_session_id = 0xFF;  // kept across resets (enet-protocol.md 3.1 step 6)
  std::uint8_t outgoing_session_id = 0xFF;
  std::function<void(const StateTransition&)> observer;
  Counters counters;

  // --- connection state (cleared by reset) ------------------------------------------------------
  PeerState state = PeerState::kDisconnected;
  std::uint16_t outgoing_peer_id = kMaxPeerId;
  std::array<std::uint8_t, 4> connect_id{};
  std::uint32_t event_data = 0;
  std::uint32_t mtu = kDefaultMtu;
  std::uint32_t window_size = kMaxWindowSize;
  std::uint32_t remote_incoming_bandwidth = 0;
  std::uint32_t remote_outgoing_bandwidth = 0;
  std::uint32_t ping_interval_ms = 500;
  std::uint32_t timeout_limit = 32;
  std::uint32_t timeout_minimum_ms = 5000;
  std::uint32_t timeout_maximum_ms = 30000;
  detail::RttState rtt;
  detail::ThrottleState throttle;
  std::optional<TimePoint> last_receive_time;  // last ACK: the only proof of life
  std::optional<TimePoint> earliest_timeout;
  std::optional<std::int64_t> next_timeout_ms;  // whole ms, libenet peer->nextTimeout
  std::optional<TimePoint> packet_loss_epoch;
  std::uint32_t packets_sent = 0;
  std::uint32_t packets_lost = 0;
  std::uint32_t packet_loss = 0;
  std::uint32_t packet_loss_variance = 0;
  std::uint32_t reliable_data_in_transit = 0;
  std::uint16_t outgoing_reliable_sequence = 0;  // peer-level (channel 0xFF)
  std::uint16_t outgoing_unsequenced_group = 0;
  std::uint16_t incoming_unsequenced_group = 0;
  // The 1024-group bitmap of received unsequenced commands, allocated by the first one: most
  // peers never send unsequenced data and keep these 128 B off their footprint.
  std::unique_ptr<detail::UnsequencedWindow> unsequenced_window;
  std::size_t total_waiting_data = 0;
  std::vector<detail::Channel> channels;
  OutList outgoing;
  OutList sent_reliable;
  detail::Fifo<detail::PendingAck> acks;
  bool continue_sending = false;  // last pass stopped on a full datagram
  bool flush_pending = false;     // something was queued since the last empty poll
  TimePoint last_now = 0;  // latest time seen; "due now" deadlines use it

  // --- output that outlives the connection ----------------------------------------------------
  detail::Fifo<PeerEvent> events;
  std::vector<std::uint8_t> final_datagram;  // disconnect_now / refusing DISCONNECT, then reset

  // peer_state.cpp
  void reset_state();
  void reset_queues();
  void change_state(PeerState to, std::string_view cause);
  void notify_connect(std::string_view cause);
  void notify_disconnect(DisconnectReason reason, std::string_view cause);
  void enter_zombie(DisconnectReason reason, std::uint32_t data, std::string_view cause);
  void disconnect(std::uint32_t data);
  void disconnect_now(std::uint32_t data);
  void disconnect_later(std::uint32_t data);
  bool is_live() const;

  // reliable_send.cpp
  void queue_outgoing(detail::OutgoingCommand command);
  void queue_protocol_command(CommandType type, bool acknowledge, bool unsequenced, CommandBody body);
  std::optional<CommandType> remove_sent_reliable(std::uint16_t sequence, std::uint8_t channel);
  bool check_timeouts(TimePoint now);  // true = the peer timed out
  void run_timers(TimePoint now);

  // fragments.cpp
  SendResult send(std::uint8_t channel, Bytes payload, PacketFlags flags);
  Handled handle_send_fragment(const Command& command);
  Handled handle_send_unreliable_fragment(const Command& command);

  // outbound.cpp
  std::size_t poll_datagram(TimePoint now, MutableBytes out);
  std::size_t build_final_datagram(MutableBytes out);
  struct Assembly;
  std::size_t assemble(TimePoint now, MutableBytes out, bool service_timers);
  void write_acks(Assembly& a);
  bool write_outgoing(TimePoint now, Assembly& a);
  bool reliable_blocked(const detail::OutgoingCommand& command, bool& window_wrap, bool& window_exceeded);
  void mark_reliable_sent(TimePoint now, detail::OutgoingCommand& command);
  bool encode_into(Assembly& a, const Command& command);
  void update_packet_loss(TimePoint now);
  bool ping_due(TimePoint now) const;
  bool disconnect_later_drained() const;
  std::optional<TimePoint> next_deadline() const;

  // handshake.cpp
  bool connect(TimePoint now, std::uint32_t channel_count, std::uint32_t data,
               std::array<std::uint8_t, 4> id);
  void assign_sessions(const ConnectParams& params);

  // inbound.cpp
  void on_datagram(TimePoint now, Bytes datagram);
  Handled handle_command(TimePoint now, const Command& command);
  Handled handle_acknowledge(TimePoint now, const Command& command);
  Handled handle_connect(const Command& command);
  Handled handle_verify_connect(const Command& command);
  Handled handle_disconnect(const Command& command);
  Handled handle_bandwidth_limit(const Command& command);
  Handled handle_throttle_configure(const Command& command);
  void queue_acknowledgement(const Command& command, std::uint16_t sent_time);

  // receive_channel.cpp
  Handled handle_send_reliable(const Command& command);
  Handled handle_send_unreliable(const Command& command);
  Handled handle_send_unsequenced(const Command& command);
  // nullptr + kOk = discarded (acked); nullptr + kStop = error. Fragments pass the total length.
  Handled queue_incoming(const CommandHeader& header, CommandType type, std::uint16_t unreliable_sequence,
                         Bytes payload, std::uint32_t total_length, std::uint32_t fragment_count,
                         detail::IncomingCommand** queued);
  void dispatch_reliable(std::uint8_t channel_id);
  void dispatch_unreliable(std::uint8_t channel_id);
  void deliver(std::uint8_t channel_id, detail::IncomingCommand&& command);
  bool data_state_ok(const Command& command);
};

}  // namespace volley::protocol
