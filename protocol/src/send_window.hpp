// The reliable send window of one peer: outgoing numbering, the outgoing and sent-reliable
// lists, retransmission timeouts, the timeout-disconnect rule and the sender-side window gates.
// Mirrors peer.c enet_peer_setup_outgoing_command and protocol.c
// enet_protocol_remove_sent_reliable_command, enet_protocol_check_timeouts and the window part
// of enet_protocol_check_outgoing_commands (enet-protocol.md 4.1, 6, 7). Lists are std::list so
// commands move between the outgoing and sent lists by splice, as libenet moves its list nodes,
// without allocation; nodes come from and return to the thread's NodePool (buffer_pool.hpp). Times are TimePoints; elapsed milliseconds are differences of whole-ms
// counts, which is what libenet's ms service clock yields.
#pragma once

#include <array>
#include <cstdint>
#include <list>
#include <optional>
#include <vector>

#include "buffer_pool.hpp"
#include "seq.hpp"
#include "volley/protocol/enet_wire.hpp"
#include "volley/protocol/peer_config.hpp"
#include "volley/protocol/time.hpp"

namespace volley::protocol::detail {

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

// One channel's send side: its sequence counters and how many reliable commands are in flight
// in each of the 16 windows of 4096 sequence numbers.
struct SendChannel {
  std::uint16_t outgoing_reliable_sequence = 0;
  std::uint16_t outgoing_unreliable_sequence = 0;
  std::uint16_t used_reliable_windows = 0;  // bit w: window w has commands in flight
  std::array<std::uint16_t, kReliableWindows> reliable_windows{};

  void count_sent(std::uint16_t reliable_sequence) noexcept;
  void count_acked(std::uint16_t reliable_sequence) noexcept;
  // A never-sent command opening a new window waits while the previous window is full or any
  // of the next ten windows still has unacked commands.
  bool new_window_blocked(std::uint16_t reliable_sequence) const noexcept {
    return reliable_sequence % kReliableWindowSize == 0 && window_busy(reliable_sequence / kReliableWindowSize);
  }

 private:
  bool window_busy(std::uint16_t window) const noexcept;
};

struct TimeoutLimits {
  std::uint32_t limit = 32;  // an RTO this many times the first one may end the connection
  std::uint32_t minimum_ms = 5000;
  std::uint32_t maximum_ms = 30000;
  // The doubling of a command's RTO stops here (0 = never, as libenet). Below limit x the first
  // RTO, the limit clause cannot fire: only maximum_ms without any ACK ends the peer.
  std::uint32_t rto_cap_ms = 0;
};

// An RTO is never longer than maximum_ms. The remote steers our RTT estimate (an ACK may echo
// any send time of the last 65 s), and libenet checks the silence rules only when a command's
// RTO runs out: an estimate of a minute made a silent peer outlive maximum_ms by minutes (up to
// rtt + 4 var = 327 s). Capped, the first expiry after maximum_ms of silence ends the peer.
inline std::uint32_t bounded_rto_ms(std::uint32_t rto_ms, const TimeoutLimits& limits) noexcept {
  return limits.maximum_ms != 0 && rto_ms > limits.maximum_ms ? limits.maximum_ms : rto_ms;
}

class SendWindow {
 public:
  using List = std::list<OutgoingCommand>;

  // Assigns the RSN / USN / unsequenced group and appends. `channel` is null for peer-level
  // (channel 0xFF) commands.
  void queue(OutgoingCommand&& command, SendChannel* channel) {
    queue_built(channel, [&](OutgoingCommand& node) { node = std::move(command); });
  }
  // The same for a command built in its list node (no temporary to move): `build` sets the
  // header's type, flags and channel, the body, and the packet with its fragment fields, on a
  // node whose other fields are as a fresh command's.
  template <class Build>
  void queue_built(SendChannel* channel, Build&& build) {
    OutgoingCommand& node = *Nodes::acquire(outgoing_, outgoing_.end());
    node.header = CommandHeader{};
    node.fragment_offset = 0;
    node.fragment_length = 0;
    node.unreliable_sequence = 0;
    node.send_attempts = 0;
    node.sent_time.reset();
    node.rto_ms.reset();
    node.rto_limit_ms = 0;
    build(node);
    number(node, channel);
  }

  // The acked command leaves the sent list (or the outgoing list, if a timeout requeued it);
  // returns its type, nullopt when nothing matched.
  std::optional<CommandType> acknowledge(std::uint16_t reliable_sequence, std::uint8_t channel_id,
                                         SendChannel* channel);
  // An ACK arrived: the silence measured by the timeout rule starts again.
  void heard_from_peer() noexcept { earliest_timeout_.reset(); }

  struct TimeoutResult {
    bool timed_out = false;           // the peer gave up: disconnect
    std::uint32_t retransmits = 0;    // commands requeued at the front of the outgoing list
  };
  // True when the oldest sent command has reached its RTO at `now`.
  bool timeout_due(TimePoint now) const noexcept;
  TimeoutResult check_timeouts(TimePoint now, const TimeoutLimits& limits);

  // The sender windows for one reliable command; sets the sticky wrap / exceeded flags of one
  // pass exactly as libenet does. `byte_window` = reliable_byte_window() of the throttle.
  // Inline: called for every queued reliable command on every pass.
  bool blocked(const OutgoingCommand& command, const SendChannel* channel, std::uint32_t byte_window,
               bool& window_wrap, bool& window_exceeded) const noexcept {
    if (channel) {
      if (!window_wrap && command.send_attempts < 1 && channel->new_window_blocked(command.header.reliable_sequence))
        window_wrap = true;
      if (window_wrap) return true;
    }
    if (command.packet) {
      if (!window_exceeded && in_transit_ + command.fragment_length > byte_window) window_exceeded = true;
      if (window_exceeded) return true;
    }
    return false;
  }
  // First (or repeated) transmission of the reliable command at `it`: counters, RTO, and the
  // move to the sent list. `initial_rto_ms` is used only on its first transmission.
  void send_reliable(TimePoint now, List::iterator it, SendChannel* channel, std::uint32_t initial_rto_ms,
                     std::uint32_t timeout_limit);

  // Removes a command from the outgoing list that leaves without an ACK (sent unreliably, or
  // dropped by the throttle); returns the next one.
  List::iterator discard(List::iterator it);
  // Both lists' payload plus kQueuedCommandCost per command: what max_queued_data bounds.
  std::size_t queued_bytes() const noexcept { return queued_bytes_; }

  List& outgoing() noexcept { return outgoing_; }
  const List& outgoing() const noexcept { return outgoing_; }
  const List& sent() const noexcept { return sent_; }
  bool idle() const noexcept { return outgoing_.empty() && sent_.empty(); }
  std::uint32_t reliable_data_in_transit() const noexcept { return in_transit_; }
  // When the oldest sent command times out (whole ms); nullopt when nothing is in flight.
  std::optional<std::int64_t> next_timeout_ms() const noexcept;

  // Peer-level RSN 1 went out without this window: the server Host's handshake sent the
  // VERIFY_CONNECT (server/src/handshake_table.hpp), so the next peer-level command is RSN 2.
  void skip_peer_level_sequence() noexcept { ++outgoing_reliable_sequence_; }

  void clear_queues() noexcept;  // drops both lists (enet_peer_reset_queues)
  void reset() noexcept;         // and the numbering and timers (enet_peer_reset)

 private:
  using Nodes = NodePool<OutgoingCommand>;
  // queue_built() sets every field of a reused node; only the payload reference must go at once.
  static void reset_node(OutgoingCommand& command) noexcept { command.packet.reset(); }
  static std::size_t cost(const OutgoingCommand& c) noexcept { return c.fragment_length + kQueuedCommandCost; }
  void number(OutgoingCommand& command, SendChannel* channel);

  List outgoing_;
  List sent_;
  std::size_t queued_bytes_ = 0;
  std::uint32_t in_transit_ = 0;
  std::optional<std::int64_t> next_timeout_ms_;  // libenet peer->nextTimeout
  std::optional<TimePoint> earliest_timeout_;
  std::uint16_t outgoing_reliable_sequence_ = 0;  // peer-level (channel 0xFF)
  std::uint16_t outgoing_unsequenced_group_ = 0;
};

}  // namespace volley::protocol::detail
