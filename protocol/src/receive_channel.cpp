// One channel's receive ordering and delivery; see receive_channel.hpp. Two deliberate
// differences from libenet: unsequenced packets are delivered at once instead of possibly
// behind waiting unreliable ones (allowed by 4.6), and bytes of discarded queued packets are
// returned to the waiting-data budget (1.3.17 leaks them).
#include "receive_channel.hpp"

#include <algorithm>
#include <optional>
#include <utility>

#include "seq.hpp"

namespace volley::protocol::detail {

namespace {

Delivery delivery_for(CommandType type) {
  switch (type) {
    case CommandType::kSendUnreliable: return Delivery::kUnreliable;
    case CommandType::kSendUnsequenced: return Delivery::kUnsequenced;
    case CommandType::kSendUnreliableFragment: return Delivery::kUnreliableFragment;
    default: return Delivery::kReliable;
  }
}

bool is_reliable(CommandType type) {
  return type == CommandType::kSendReliable || type == CommandType::kSendFragment;
}

// Where a command goes in a channel's receive queue, ordered by distance ahead of `current`
// (then by USN for unreliable ones); nullopt for a duplicate of a queued command.
std::optional<std::list<IncomingCommand>::iterator> insert_position(std::list<IncomingCommand>& list,
                                                                    std::uint16_t r, std::uint16_t current,
                                                                    bool reliable, std::uint16_t usn) {
  const std::uint16_t key = ahead_of(r, current);
  for (auto it = list.begin(); it != list.end(); ++it) {
    const std::uint16_t other = ahead_of(it->reliable_sequence, current);
    if (other == key && (reliable || it->unreliable_sequence == usn)) return std::nullopt;
    if (other > key || (!reliable && other == key && it->unreliable_sequence > usn)) return it;
  }
  return list.end();
}

}  // namespace

bool ReceiveBudget::take(std::size_t n, Counters& counters) noexcept {
  if (bytes_ + n > max_bytes_) {
    counters.add(Counter::kDropWaitingDataLimit);
    return false;
  }
  if (shared_) {
    if (shared_->used + n > shared_->limit) {
      counters.add(Counter::kDropWaitingTotalLimit);
      return false;
    }
    shared_->used += n;
  }
  bytes_ += n;
  return true;
}

void ReceiveBudget::give_back(std::size_t n) noexcept {
  n = n < bytes_ ? n : bytes_;
  bytes_ -= n;
  if (shared_) shared_->used -= n < shared_->used ? n : shared_->used;
}

void ReceiveBudget::reset_to(std::size_t n) noexcept {
  if (shared_) shared_->used = shared_->used - (bytes_ < shared_->used ? bytes_ : shared_->used) + n;
  bytes_ = n;
}

bool ReceiveBudget::hold(Counters& counters, bool next) noexcept {
  if (held_ >= max_held_ && !next) {
    counters.add(Counter::kDropHeldCommandsLimit);
    return false;
  }
  ++held_;
  return true;
}

namespace {

// Counts a receive of `size` bytes and appends its event, built in the queue; the caller sets
// its bytes (`payload` or `borrowed`).
PeerEvent& append_receive(ReceiveContext& ctx, CommandType type, std::size_t size) {
  ctx.counters.add(Counter::kPacketsIn);
  ctx.counters.add(Counter::kPayloadBytesIn, size);
  PeerEvent& event = ctx.events.emplace_back();
  event.type = PeerEvent::Type::kReceive;
  event.channel = ctx.channel_id;
  event.delivery = delivery_for(type);
  return event;
}

}  // namespace

void deliver(ReceiveContext& ctx, CommandType type, std::vector<std::uint8_t>&& payload) {
  append_receive(ctx, type, payload.size()).payload = std::move(payload);
}

void deliver_now(ReceiveContext& ctx, CommandType type, Bytes payload) {
  if (!ctx.borrow) {
    deliver(ctx, type, take_buffer(payload));
    return;
  }
  // A zero-length payload still needs a non-null view to read as borrowed.
  static constexpr std::uint8_t kNothing = 0;
  const Bytes borrowed = payload.data() != nullptr ? payload : Bytes(&kNothing, 0);
  if (ctx.direct != nullptr && ctx.events.empty()) {
    // Handed on before anything else can be queued, so it is never waiting: its bytes go
    // straight back to the budget that queue() took them from.
    ctx.counters.add(Counter::kPacketsIn);
    ctx.counters.add(Counter::kPayloadBytesIn, payload.size());
    PeerEvent& event = *std::exchange(ctx.direct, nullptr);
    event.type = PeerEvent::Type::kReceive;
    event.channel = ctx.channel_id;
    event.delivery = delivery_for(type);
    event.borrowed = borrowed;
    ctx.budget.give_back(payload.size());
    return;
  }
  append_receive(ctx, type, payload.size()).borrowed = borrowed;
}

bool ReceiveChannel::ack_withheld(std::uint16_t reliable_sequence) const noexcept {
  return detail::ack_withheld(reliable_sequence, reliable_sequence_);
}

void reset_incoming(IncomingCommand& command) noexcept {
  give_buffer(std::move(command.data));
  command.data.clear();
  constexpr std::size_t kKeptBitmapWords = 32;  // 1,024 fragments
  if (command.fragment_bits.capacity() > kKeptBitmapWords) std::vector<std::uint32_t>().swap(command.fragment_bits);
  command.fragment_bits.clear();
  command.fragment_count = 0;
  command.fragments_remaining = 0;
}

void ReceiveChannel::clear() noexcept {
  Nodes::clear(reliable_, reset_incoming);
  Nodes::clear(unreliable_, reset_incoming);
}

Handled ReceiveChannel::receive(ReceiveContext& ctx, CommandType type, std::uint16_t reliable_sequence,
                                std::uint16_t unreliable_sequence, Bytes payload) {
  IncomingCommand* queued = nullptr;
  return queue(ctx, type, reliable_sequence, unreliable_sequence, payload, 0, 0, &queued);
}

Handled ReceiveChannel::queue(ReceiveContext& ctx, CommandType type, std::uint16_t r, std::uint16_t usn,
                              Bytes payload, std::uint32_t total_length, std::uint32_t fragment_count,
                              IncomingCommand** queued) {
  *queued = nullptr;
  // A fragment that cannot be queued is an error (no ack); anything else is just discarded.
  auto discard = [&](Counter reason) {
    ctx.counters.add(reason);
    if (fragment_count > 0) return Handled::kStop;
    return Handled::kOk;
  };
  if (ctx.discard) return discard(Counter::kDropDisconnectLater);
  const std::uint16_t current = reliable_sequence_;
  if (!in_receive_window(r, current)) return discard(Counter::kDropOutsideWindow);

  const bool reliable = is_reliable(type);
  List& list = reliable ? reliable_ : unreliable_;
  if (reliable && r == current) return discard(Counter::kDropDuplicate);
  if (!reliable && r == current && usn <= unreliable_sequence_) return discard(Counter::kDropStaleUnreliable);
  const auto position = insert_position(list, r, current, reliable, usn);
  if (!position) return discard(Counter::kDropDuplicate);
  const std::size_t length = fragment_count > 0 ? total_length : payload.size();
  // The next reliable packet, or an unreliable one of the current epoch (newer than the last
  // delivered, checked above), with nothing queued is delivered at once, without a list node:
  // it is never held, so it takes no place in the held-commands budget.
  const bool in_order = fragment_count == 0 && list.empty() &&
                        (reliable ? r == static_cast<std::uint16_t>(current + 1) : r == current);
  // Refused commands are not acked: the sender resends them once the budget has room again.
  const bool next = reliable ? r == static_cast<std::uint16_t>(current + 1) : r == current && fragment_count == 0;
  if (!in_order && !ctx.budget.hold(ctx.counters, next)) return Handled::kStop;
  if (!ctx.budget.take(length, ctx.counters)) {
    if (!in_order) ctx.budget.release_held();
    return Handled::kStop;
  }
  if (in_order && reliable) {
    // insert + dispatch_reliable() would deliver it at once: the common case, done directly.
    reliable_sequence_ = r;
    deliver_now(ctx, type, payload);
    unreliable_sequence_ = 0;  // as dispatch_reliable: a new unreliable epoch
    if (!unreliable_.empty()) dispatch_unreliable(ctx);
    return Handled::kOk;
  }
  if (in_order) {
    // Unreliable: insert + dispatch_unreliable() would deliver it at once.
    unreliable_sequence_ = usn;
    deliver_now(ctx, type, payload);
    return Handled::kOk;
  }
  auto inserted = Nodes::acquire(list, *position);
  IncomingCommand& command = *inserted;
  command.type = type;
  command.reliable_sequence = r;
  command.unreliable_sequence = usn;
  if (fragment_count > 0) {
    begin_reassembly(command, fragment_count, total_length);
  } else {
    command.data = take_buffer(payload);
  }
  *queued = &command;
  if (fragment_count == 0) {
    if (reliable) dispatch_reliable(ctx);
    else dispatch_unreliable(ctx);
  }
  return Handled::kOk;
}

void ReceiveChannel::dispatch_reliable(ReceiveContext& ctx) {
  bool delivered = false;
  while (!reliable_.empty()) {
    IncomingCommand& head = reliable_.front();
    if (head.fragments_remaining > 0 || head.reliable_sequence != static_cast<std::uint16_t>(reliable_sequence_ + 1))
      break;
    reliable_sequence_ = head.reliable_sequence;
    if (head.fragment_count > 0)
      reliable_sequence_ = static_cast<std::uint16_t>(reliable_sequence_ + head.fragment_count - 1);
    deliver(ctx, head.type, std::move(head.data));
    erase(reliable_, reliable_.begin());
    ctx.budget.release_held();
    delivered = true;
  }
  if (!delivered) return;
  // A reliable delivery opens a new epoch for unreliable packets sent after it.
  unreliable_sequence_ = 0;
  if (!unreliable_.empty()) dispatch_unreliable(ctx);
}

// Delivers the complete unreliable packets of the current epoch in USN order; drops packets of
// past epochs and incomplete fragment sets overtaken by a newer delivery; keeps future epochs.
void ReceiveChannel::dispatch_unreliable(ReceiveContext& ctx) {
  auto drop = [&](List::iterator it) {
    ctx.budget.give_back(it->data.size());
    ctx.budget.release_held();
    ctx.counters.add(Counter::kDropAbandonedUnreliable);
    return erase(unreliable_, it);
  };
  auto it = unreliable_.begin();
  auto first_incomplete = unreliable_.end();
  while (it != unreliable_.end()) {
    const std::uint16_t current = reliable_sequence_;
    if (it->reliable_sequence == current) {
      if (it->fragments_remaining > 0) {
        if (first_incomplete == unreliable_.end()) first_incomplete = it;
        ++it;
        continue;
      }
      while (first_incomplete != unreliable_.end() && first_incomplete != it) first_incomplete = drop(first_incomplete);
      first_incomplete = unreliable_.end();
      unreliable_sequence_ = it->unreliable_sequence;
      deliver(ctx, it->type, std::move(it->data));
      it = erase(unreliable_, it);
      ctx.budget.release_held();
      continue;
    }
    if (in_receive_window(it->reliable_sequence, current)) break;  // a future epoch
    it = drop(it);
  }
}

// Reliable fragments are accepted on the packet's start sequence (the ack goes on the
// fragment's own RSN); unreliable ones on their RSN, with the start as their USN.
Handled ReceiveChannel::receive_fragment(ReceiveContext& ctx, CommandType type, std::uint16_t r,
                                         const SendFragment& f) {
  const bool reliable = type == CommandType::kSendFragment;
  const std::uint16_t accept_on = reliable ? f.start_sequence : r;
  if (!in_receive_window(accept_on, reliable_sequence_)) {
    ctx.counters.add(Counter::kDropOutsideWindow);
    return Handled::kOk;
  }
  if (!reliable && r == reliable_sequence_ && f.start_sequence <= unreliable_sequence_) {
    ctx.counters.add(Counter::kDropStaleUnreliable);
    return Handled::kOk;
  }
  switch (check_fragment_fields(f, ctx.fragment_limits)) {
    case FragmentCheck::kOk: break;
    case FragmentCheck::kMalformed: ctx.counters.add(Counter::kDropBadFragment); return Handled::kStop;
    case FragmentCheck::kCountLimit: ctx.counters.add(Counter::kDropFragmentCountLimit); return Handled::kStop;
    case FragmentCheck::kLengthLimit: ctx.counters.add(Counter::kDropFragmentLengthLimit); return Handled::kStop;
  }
  IncomingCommand* target = nullptr;
  for (auto& held : reliable ? reliable_ : unreliable_) {
    if (held.reliable_sequence != accept_on || (!reliable && held.unreliable_sequence != f.start_sequence))
      continue;
    if (!same_packet(held, type, f)) {
      ctx.counters.add(Counter::kDropBadFragment);
      return Handled::kStop;
    }
    target = &held;
    break;
  }
  if (!target) {
    const std::uint16_t usn = reliable ? 0 : f.start_sequence;
    const Handled queued = queue(ctx, type, accept_on, usn, {}, f.total_length, f.fragment_count, &target);
    if (queued == Handled::kStop || !target) return Handled::kStop;
  }
  const Absorbed absorbed = absorb_fragment(*target, f);
  if (absorbed == Absorbed::kDuplicate) ctx.counters.add(Counter::kDropDuplicate);  // still acked
  if (absorbed == Absorbed::kComplete) {
    if (reliable) dispatch_reliable(ctx);
    else dispatch_unreliable(ctx);
  }
  return Handled::kOk;
}

}  // namespace volley::protocol::detail
