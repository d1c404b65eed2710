// The reliable send window; see send_window.hpp.
#include "send_window.hpp"

#include <algorithm>
#include <cstdint>
#include <utility>

namespace volley::protocol::detail {

namespace {

std::uint32_t elapsed_ms(TimePoint now, TimePoint then) {
  return static_cast<std::uint32_t>(whole_ms(now) - whole_ms(then));
}

std::uint16_t window_of(std::uint16_t reliable_sequence) { return reliable_sequence / kReliableWindowSize; }

// Doubled (libenet: without bound), or with a cap: not past it, nor below the starting RTO.
// Never past the silence that ends the peer (bounded_rto_ms).
std::uint32_t backed_off(std::uint32_t rto_ms, const TimeoutLimits& limits) {
  std::uint64_t next = 2ull * rto_ms;
  if (limits.rto_cap_ms != 0) next = std::max<std::uint64_t>(rto_ms, std::min<std::uint64_t>(next, limits.rto_cap_ms));
  return bounded_rto_ms(static_cast<std::uint32_t>(std::min<std::uint64_t>(next, UINT32_MAX)), limits);
}

}  // namespace

void SendChannel::count_sent(std::uint16_t reliable_sequence) noexcept {
  const std::uint16_t window = window_of(reliable_sequence);
  used_reliable_windows |= static_cast<std::uint16_t>(1u << window);
  ++reliable_windows[window];
}

void SendChannel::count_acked(std::uint16_t reliable_sequence) noexcept {
  const std::uint16_t window = window_of(reliable_sequence);
  if (reliable_windows[window] > 0 && --reliable_windows[window] == 0)
    used_reliable_windows &= static_cast<std::uint16_t>(~(1u << window));
}

bool SendChannel::window_busy(std::uint16_t window) const noexcept {
  const std::uint32_t mask = (1u << (kFreeReliableWindows + 2)) - 1;
  const std::uint16_t busy =
      static_cast<std::uint16_t>((mask << window) | (mask >> (kReliableWindows - window)));
  return reliable_windows[(window + kReliableWindows - 1) % kReliableWindows] >= kReliableWindowSize ||
         (used_reliable_windows & busy) != 0;
}

void SendWindow::number(OutgoingCommand& command, SendChannel* channel) {
  CommandHeader& header = command.header;
  std::uint16_t reliable_sequence = 0;
  if (!channel) {
    reliable_sequence = ++outgoing_reliable_sequence_;
  } else if (header.acknowledge) {
    reliable_sequence = ++channel->outgoing_reliable_sequence;
    channel->outgoing_unreliable_sequence = 0;
  } else if (header.unsequenced) {
    ++outgoing_unsequenced_group_;
  } else {
    if (command.fragment_offset == 0) ++channel->outgoing_unreliable_sequence;
    reliable_sequence = channel->outgoing_reliable_sequence;
    command.unreliable_sequence = channel->outgoing_unreliable_sequence;
  }
  header.reliable_sequence = reliable_sequence;
  if (auto* unreliable = std::get_if<SendUnreliable>(&command.body))
    unreliable->unreliable_sequence = command.unreliable_sequence;
  if (auto* unsequenced = std::get_if<SendUnsequenced>(&command.body))
    unsequenced->unsequenced_group = outgoing_unsequenced_group_;
  queued_bytes_ += cost(command);
}

// The sent list first, then commands that were sent and requeued by a timeout.
std::optional<CommandType> SendWindow::acknowledge(std::uint16_t sequence, std::uint8_t channel_id,
                                                   SendChannel* channel) {
  auto matches = [&](const OutgoingCommand& c) {
    return c.header.reliable_sequence == sequence && c.header.channel == channel_id;
  };
  List* list = &sent_;
  auto it = sent_.begin();
  while (it != sent_.end() && !matches(*it)) ++it;
  bool was_sent = true;
  if (it == sent_.end()) {
    list = &outgoing_;
    for (it = outgoing_.begin(); it != outgoing_.end(); ++it) {
      if (!it->header.acknowledge) continue;
      if (it->send_attempts < 1) return std::nullopt;  // the rest were never sent
      if (matches(*it)) break;
    }
    if (it == outgoing_.end()) return std::nullopt;
    was_sent = false;
  }
  if (channel) channel->count_acked(sequence);
  const CommandType type = it->header.type;
  if (it->packet && was_sent) in_transit_ -= it->fragment_length;
  queued_bytes_ -= cost(*it);
  Nodes::erase(*list, it, reset_node);
  if (!sent_.empty()) {
    const OutgoingCommand& front = sent_.front();
    next_timeout_ms_ = whole_ms(*front.sent_time) + *front.rto_ms;
  }
  return type;
}

bool SendWindow::timeout_due(TimePoint now) const noexcept {
  return !sent_.empty() && next_timeout_ms_ && whole_ms(now) >= *next_timeout_ms_;
}

SendWindow::TimeoutResult SendWindow::check_timeouts(TimePoint now, const TimeoutLimits& limits) {
  TimeoutResult result;
  auto insert_at = outgoing_.begin();
  auto it = sent_.begin();
  while (it != sent_.end()) {
    auto current = it++;
    OutgoingCommand& command = *current;
    if (elapsed_ms(now, *command.sent_time) < *command.rto_ms) continue;
    if (!earliest_timeout_ || whole_ms(*command.sent_time) < whole_ms(*earliest_timeout_))
      earliest_timeout_ = command.sent_time;
    const std::uint32_t silent_ms = elapsed_ms(now, *earliest_timeout_);
    if (silent_ms >= limits.maximum_ms ||
        (*command.rto_ms >= command.rto_limit_ms && silent_ms >= limits.minimum_ms)) {
      result.timed_out = true;
      return result;
    }
    if (command.packet) in_transit_ -= command.fragment_length;
    ++result.retransmits;
    *command.rto_ms = backed_off(*command.rto_ms, limits);
    // Requeue at the front, keeping the order of the timed-out commands among themselves.
    outgoing_.splice(insert_at, sent_, current);
    if (it == sent_.begin() && it != sent_.end()) next_timeout_ms_ = whole_ms(*it->sent_time) + *it->rto_ms;
  }
  return result;
}

void SendWindow::send_reliable(TimePoint now, List::iterator it, SendChannel* channel,
                               std::uint32_t initial_rto_ms, std::uint32_t timeout_limit) {
  OutgoingCommand& command = *it;
  if (channel && command.send_attempts < 1) channel->count_sent(command.header.reliable_sequence);
  ++command.send_attempts;
  if (!command.rto_ms) {
    command.rto_ms = initial_rto_ms;
    command.rto_limit_ms = timeout_limit * initial_rto_ms;
  }
  if (sent_.empty()) next_timeout_ms_ = whole_ms(now) + *command.rto_ms;
  command.sent_time = now;
  in_transit_ += command.fragment_length;
  sent_.splice(sent_.end(), outgoing_, it);
}

std::optional<std::int64_t> SendWindow::next_timeout_ms() const noexcept {
  if (sent_.empty()) return std::nullopt;
  return next_timeout_ms_;
}

SendWindow::List::iterator SendWindow::discard(List::iterator it) {
  queued_bytes_ -= cost(*it);
  return Nodes::erase(outgoing_, it, reset_node);
}

void SendWindow::clear_queues() noexcept {
  Nodes::clear(sent_, reset_node);
  Nodes::clear(outgoing_, reset_node);
  queued_bytes_ = 0;
}

void SendWindow::reset() noexcept {
  clear_queues();
  in_transit_ = 0;
  next_timeout_ms_.reset();
  earliest_timeout_.reset();
  outgoing_reliable_sequence_ = 0;
  outgoing_unsequenced_group_ = 0;
}

}  // namespace volley::protocol::detail
