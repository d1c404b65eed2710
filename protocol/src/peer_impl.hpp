// Internal state of a Peer: the connection state machine, composed of parts that keep their own
// state and are tested on their own (docs/peer-parts.md): SendWindow (send_window.hpp),
// ReceiveChannel per channel (receive_channel.hpp, with fragment_assembly.hpp),
// UnsequencedWindow, RttState / ThrottleState (rtt.hpp, throttle.hpp), PacketLoss and the ack
// Fifo. The Impl's own member functions live in the file of their concern: peer_state.cpp
// (states, reset, events), reliable_send.cpp (queueing and timeouts), outbound.cpp (datagram
// assembly), inbound.cpp (receive pipeline and command handlers), handshake.cpp.
#pragma once

#include <array>
#include <cstdint>
#include <functional>
#include <optional>
#include <vector>

#include "fifo.hpp"
#include "incoming_command.hpp"
#include "packet_loss.hpp"
#include "receive_channel.hpp"
#include "rtt.hpp"
#include "send_window.hpp"
#include "seq.hpp"
#include "throttle.hpp"
#include "unsequenced_window.hpp"
#include "volley/protocol/peer.hpp"

namespace volley::protocol::detail {

struct Channel {
  SendChannel send;
  ReceiveChannel receive;
};

// A peer's data channels. The count is kept as a number beside the vector: the channel check
// runs for every packet sent and received, and vector::size() divides by sizeof(Channel).
class Channels {
 public:
  void assign(std::size_t count) {
    items_.assign(count, Channel{});
    count_ = count;
  }
  void shrink_to(std::size_t count) {
    if (count >= count_) return;
    items_.resize(count);
    count_ = count;
  }
  void clear() noexcept {
    items_.clear();
    count_ = 0;
  }
  std::size_t size() const noexcept { return count_; }
  Channel& operator[](std::size_t i) noexcept { return items_[i]; }
  const Channel& operator[](std::size_t i) const noexcept { return items_[i]; }

 private:
  std::vector<Channel> items_;
  std::size_t count_ = 0;
};

struct PendingAck {
  std::uint8_t channel = 0;
  std::uint16_t reliable_sequence = 0;
  std::uint16_t sent_time = 0;
  CommandType type = CommandType::kPing;
};

}  // namespace volley::protocol::detail

namespace volley::protocol {

using detail::Handled;

struct Peer::Impl {
  Impl(PeerRole r, std::uint16_t id, const PeerConfig& c) : role(r), incoming_peer_id(id), config(c) {
    received.set_limits(config.max_waiting_data, config.max_held_commands, config.shared_waiting);
    reset_state();
  }
  // Undelivered bytes go back to the shared budget, which outlives the peer.
  ~Impl() { received.reset_to(0); }
  Impl(const Impl&) = delete;
  Impl& operator=(const Impl&) = delete;

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
  detail::TimeoutLimits timeouts;
  detail::RttState rtt;
  detail::ThrottleState throttle;
  detail::PacketLoss packet_loss;
  std::optional<TimePoint> last_receive_time;  // last ACK: the only proof of life
  std::optional<TimePoint> last_heard_time;    // last datagram accepted (KeepalivePolicy::kWhenSilent)
  detail::SendWindow send_window;
  detail::UnsequencedWindow unsequenced_window;
  detail::ReceiveBudget received;  // undelivered bytes and out-of-order commands
  detail::Channels channels;
  detail::Fifo<detail::PendingAck> acks;
  bool continue_sending = false;  // last pass stopped on a full datagram
  bool flush_pending = false;     // something was queued since the last empty poll
  bool ping_unsent = false;       // the last assembly had a PING due and no room for it
  bool last_sent_time = false;    // the last datagram's header carried the sent time (Assembly)
  bool borrowing = false;         // inside on_datagram, whose commands may be viewed (DatagramLifetime)
  bool poll_again = true;         // Peer::poll_again(): set by every poll_datagram
  TimePoint last_now = 0;  // latest time seen; "due now" deadlines use it
  // Set by accept(): the cookie our RSN-1 command carried as its sent time. An ACK echoing it
  // proves the handshake; it is no clock reading, so it never feeds the RTT.
  std::optional<std::uint16_t> handshake_cookie_time;

  // --- output that outlives the connection ----------------------------------------------------
  detail::Fifo<PeerEvent> events;
  bool front_in_use = false;  // peek_event() handed out the front, and pop_event() has not run
  std::vector<std::uint8_t> final_datagram;  // disconnect_now / refusing DISCONNECT, then reset

  // The send side of a data channel; null for the peer-level channel 0xFF (or a bad id).
  detail::SendChannel* send_channel(std::uint8_t id) noexcept {
    return id < channels.size() ? &channels[id].send : nullptr;
  }
  // What a receive channel borrows from the peer for one command.
  detail::ReceiveContext receive_context(std::uint8_t channel_id) noexcept {
    return detail::ReceiveContext{counters,
                                  events,
                                  received,
                                  detail::FragmentLimits{config.max_fragment_count, config.max_packet_size},
                                  channel_id,
                                  state == PeerState::kDisconnectLater,
                                  borrowing};
  }

  // peer_state.cpp
  void reset_state();
  void drop_front_event(std::size_t delivered);  // peer.cpp: after the front event is taken
  void drop_undelivered_events();                // peer.cpp: an app's reset or disconnect_now
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
  SendResult send(std::uint8_t channel, Bytes payload, PacketFlags flags);
  void queue_outgoing(detail::OutgoingCommand&& command);
  void queue_protocol_command(CommandType type, bool acknowledge, bool unsequenced, CommandBody body);
  bool check_timeouts(TimePoint now);  // true = the peer timed out
  void run_timers(TimePoint now);

  // outbound.cpp
  std::size_t poll_datagram(TimePoint now, MutableBytes out);
  std::size_t build_final_datagram(MutableBytes out);
  struct Assembly;
  std::size_t assemble(TimePoint now, MutableBytes out, bool service_timers);
  static constexpr std::size_t kNotLean = static_cast<std::size_t>(-1);
  std::size_t assemble_lean(TimePoint now, MutableBytes out);
  bool lean_assembly = true;  // off only in tests that hold the two assemblies side by side
  void write_acks(Assembly& a);
  bool write_outgoing(TimePoint now, Assembly& a);
  bool encode_into(Assembly& a, const CommandHeader& header, const CommandBody& body);
  // A command of `written` bytes (0: none was written) joined `a`: counts it.
  bool count_written(Assembly& a, std::size_t written);
  bool lean_keepalive() const;
  std::optional<TimePoint> ping_deadline() const;
  bool ping_due(TimePoint now) const;
  bool nothing_to_send(TimePoint now) const;
  bool more_to_send(TimePoint now) const;
  bool disconnect_later_drained() const;
  std::optional<TimePoint> next_deadline() const;

  // handshake.cpp
  bool connect(TimePoint now, std::uint32_t channel_count, std::uint32_t data,
               std::array<std::uint8_t, 4> id);
  void assign_sessions(const ConnectParams& params);
  void apply_connect(const Connect& connect, const ConnectParams& verify);
  bool accept(TimePoint now, const ConnectRequest& request, const ConnectParams& verify,
              std::uint16_t cookie_time, std::uint32_t rtt_sample_ms, Bytes datagram);

  // inbound.cpp
  // `header`: decoded by the caller (the Host, to route). `borrow`: the caller keeps `datagram`
  // until it has drained the events (DatagramLifetime).
  // `direct`: see Peer::on_datagram_direct; true when the packet went there.
  bool on_datagram(TimePoint now, Bytes datagram, const HeaderView& header, bool borrow = false,
                   PeerEvent* direct = nullptr);
  void on_datagram(TimePoint now, Bytes datagram);  // decodes the header first
  bool unopened(const Header& header) const noexcept;
  void open_and_walk(TimePoint now, Bytes datagram, const HeaderView& header, bool borrow);
  void walk_commands(TimePoint now, const Header& header, Bytes commands);
  void count_arrival(TimePoint now, std::size_t bytes);
  Handled handle_command(TimePoint now, const Command& command);
  bool take_plain_commands(TimePoint now, const Header& header, Bytes commands, PeerEvent*& direct);
  bool take_acknowledgement(TimePoint now, std::uint8_t channel, const Acknowledge& ack,
                            std::optional<CommandType>& acked);
  Handled handle_acknowledge(TimePoint now, const Command& command);
  Handled handle_connect(const Command& command);
  Handled handle_verify_connect(const Command& command);
  Handled handle_disconnect(const Command& command);
  Handled handle_bandwidth_limit(const Command& command);
  Handled handle_throttle_configure(const Command& command);
  Handled handle_send(const Command& command);
  Handled handle_send_unsequenced(const Command& command);
  void queue_acknowledgement(const Command& command, std::uint16_t sent_time);
  void queue_acknowledgement(std::uint8_t channel, std::uint16_t reliable_sequence, CommandType type,
                             std::uint16_t sent_time);
  bool session_state_ok();
  bool data_state_ok(const Command& command);
};

}  // namespace volley::protocol
