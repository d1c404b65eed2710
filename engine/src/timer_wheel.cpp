// TimerWheel implementation. Invariant: every linked node has tick >= current_tick_, so a slot
// visited at tick t holds nodes of this round (tick == t) or of later rounds (tick >= t + kSlots).
#include "timer_wheel.hpp"

#include <algorithm>
#include <bit>
#include <cassert>

namespace volley::engine {

namespace {
constexpr std::uint32_t kMask = TimerWheel::kSlots - 1;
static_assert((TimerWheel::kSlots & kMask) == 0, "slot count must be a power of two");
// The occupancy bitmap's words are summarised in one 64-bit word.
static_assert(TimerWheel::kSlots == 64 * 64);
}  // namespace

TimerWheel::TimerWheel(TimePoint start)
    : heads_(kSlots, kNil), occupied_(kSlots / 64, 0), current_tick_(tick_of(start)) {}

TimerWheel::Node* TimerWheel::lookup(TimerId id) noexcept {
  if (id.index >= nodes_.size()) return nullptr;
  Node& node = nodes_[id.index];
  if (node.generation != id.generation || node.state == State::kFree) return nullptr;
  return &node;
}

void TimerWheel::note_deadline(TimePoint deadline) noexcept {
  if (wake_valid_ && (!wake_ || deadline < *wake_)) wake_ = deadline;
}

void TimerWheel::link(std::uint32_t index, TimePoint deadline) {
  Node& node = nodes_[index];
  node.deadline = deadline;
  node.seq = next_seq_++;
  node.tick = std::max(tick_of(deadline), current_tick_);
  const auto slot = static_cast<std::uint32_t>(static_cast<std::uint64_t>(node.tick) & kMask);
  node.prev = kNil;
  node.next = heads_[slot];
  if (node.next != kNil) nodes_[node.next].prev = index;
  heads_[slot] = index;
  occupied_[slot >> 6] |= std::uint64_t{1} << (slot & 63);
  occupied_words_ |= std::uint64_t{1} << (slot >> 6);
  node.state = State::kLinked;
  note_deadline(deadline);
}

void TimerWheel::unlink(std::uint32_t index) noexcept {
  Node& node = nodes_[index];
  assert(node.state == State::kLinked);
  const auto slot = static_cast<std::uint32_t>(static_cast<std::uint64_t>(node.tick) & kMask);
  if (node.prev != kNil) {
    nodes_[node.prev].next = node.next;
  } else {
    heads_[slot] = node.next;
  }
  if (node.next != kNil) nodes_[node.next].prev = node.prev;
  if (heads_[slot] == kNil) {
    std::uint64_t& word = occupied_[slot >> 6];
    word &= ~(std::uint64_t{1} << (slot & 63));
    if (word == 0) occupied_words_ &= ~(std::uint64_t{1} << (slot >> 6));
  }
  // The cached wake time stays a lower bound of the linked deadlines unless this node may have
  // been the earliest; only then is it rescanned (a peer's timer moving later costs no scan).
  if (wake_valid_ && wake_ && node.deadline <= *wake_) wake_valid_ = false;
  node.prev = node.next = kNil;
  node.state = State::kDue;  // callers set the real next state
}

void TimerWheel::release(std::uint32_t index) noexcept {
  Node& node = nodes_[index];
  node.callback = nullptr;
  node.state = State::kFree;
  if (++node.generation == 0) node.generation = 1;  // 0 is the "no timer" handle
  free_.push_back(index);
  --live_;
}

TimerId TimerWheel::schedule(TimePoint deadline, TimerCallback callback) {
  std::uint32_t index;
  if (!free_.empty()) {
    index = free_.back();
    free_.pop_back();
  } else {
    index = static_cast<std::uint32_t>(nodes_.size());
    nodes_.emplace_back();
  }
  nodes_[index].callback = std::move(callback);
  ++live_;
  link(index, deadline);
  return TimerId{index, nodes_[index].generation};
}

bool TimerWheel::cancel(TimerId id) {
  Node* node = lookup(id);
  if (node == nullptr) return false;
  if (node->state == State::kLinked) unlink(id.index);
  release(id.index);
  return true;
}

bool TimerWheel::reschedule(TimerId id, TimePoint deadline) {
  Node* node = lookup(id);
  if (node == nullptr) return false;
  if (node->state == State::kLinked) {
    // Moved earlier, a timer leaves the cached wake time exact even if it was the earliest: the
    // earliest is now the cached time or the new deadline, whichever comes first (link() takes
    // the minimum). A peer's timer moving from its keepalive to a resend deadline, often the
    // wheel's earliest, then costs no rescan.
    const bool cache_holds = wake_valid_ && deadline <= node->deadline;
    unlink(id.index);
    wake_valid_ = wake_valid_ || cache_holds;
  }
  // A due or firing node simply becomes linked again with a new sequence number; its stale
  // entry in the due list no longer matches and is skipped.
  link(id.index, deadline);
  return true;
}

std::int64_t TimerWheel::next_occupied(std::int64_t from, std::int64_t limit) const noexcept {
  std::int64_t t = from;
  while (t < limit) {
    const auto slot = static_cast<std::uint32_t>(static_cast<std::uint64_t>(t) & kMask);
    const std::uint64_t bits = occupied_[slot >> 6] >> (slot & 63);
    if (bits != 0) return std::min(limit, t + std::countr_zero(bits));
    // On to the next word that holds a timer, found in the summary (rotated so that bit 0 is
    // the word after this one): a sparse wheel is crossed in a step, not 64.
    t += 64 - (slot & 63);
    const std::uint64_t words = std::rotr(occupied_words_, static_cast<int>(((slot >> 6) + 1) & 63));
    if (words == 0) return limit;
    t += 64 * static_cast<std::int64_t>(std::countr_zero(words));
  }
  return limit;
}

void TimerWheel::advance(TimePoint now) {
  const std::int64_t end = std::max(tick_of(now), current_tick_);
  // A valid cached wake time is a lower bound of every linked deadline: before it nothing is
  // due, and no slot needs visiting (most passes of a busy loop).
  if (wake_valid_ && (!wake_ || *wake_ > now)) {
    current_tick_ = end;
    return;
  }
  // Time alone changes no deadline: the cached wake time stays valid until it is reached (then
  // it was a due timer, unlinked below anyway, or the round-boundary hint, which is rescanned).
  if (wake_ && *wake_ <= now) wake_valid_ = false;
  // One full round at most: the test below is on deadlines, not ticks, so a long jump needs
  // each slot walked only once.
  const std::int64_t limit = std::min(end, current_tick_ + kSlots - 1) + 1;
  const std::int64_t first = next_occupied(current_tick_, limit);
  if (first >= limit) {  // no timer in the ticks passed: most wake-ups
    current_tick_ = end;
    return;
  }
  std::vector<Due> due;
  due.swap(due_);
  due.clear();
  for (std::int64_t t = first; t < limit; t = next_occupied(t + 1, limit)) {
    const auto slot = static_cast<std::uint32_t>(static_cast<std::uint64_t>(t) & kMask);
    for (std::uint32_t index = heads_[slot]; index != kNil;) {
      Node& node = nodes_[index];
      const std::uint32_t next = node.next;
      if (node.deadline <= now) {
        unlink(index);
        due.push_back(Due{node.deadline, node.seq, index});
      }
      index = next;
    }
  }
  current_tick_ = end;
  std::sort(due.begin(), due.end(), [](const Due& a, const Due& b) {
    return a.deadline != b.deadline ? a.deadline < b.deadline : a.seq < b.seq;
  });
  for (const Due& d : due) fire(d);
  due.clear();
  due_.swap(due);
}

void TimerWheel::fire(const Due& due) {
  Node& node = nodes_[due.index];
  if (node.state != State::kDue || node.seq != due.seq) return;
  node.state = State::kFiring;
  const std::uint32_t generation = node.generation;
  // Moved out because the callback may grow nodes_ and invalidate `node`.
  TimerCallback callback = std::move(node.callback);
  node.callback = nullptr;
  callback();
  Node& after = nodes_[due.index];
  if (after.generation != generation) return;  // cancelled (and maybe reused) meanwhile
  if (after.state == State::kFiring) {
    release(due.index);
  } else {
    after.callback = std::move(callback);  // rescheduled from inside its own callback
  }
}

std::optional<TimePoint> TimerWheel::rescan_wake() {
  wake_valid_ = true;
  wake_.reset();
  if (live_ == 0) return wake_;
  const std::int64_t limit = current_tick_ + kSlots;
  for (std::int64_t t = next_occupied(current_tick_, limit); t < limit;
       t = next_occupied(t + 1, limit)) {
    const auto slot = static_cast<std::uint32_t>(static_cast<std::uint64_t>(t) & kMask);
    std::optional<TimePoint> best;
    for (std::uint32_t index = heads_[slot]; index != kNil; index = nodes_[index].next) {
      const Node& node = nodes_[index];
      if (node.tick == t && (!best || node.deadline < *best)) best = node.deadline;
    }
    if (best) {
      wake_ = best;
      return wake_;
    }
  }
  // Every timer is at least a round away; waking at the round boundary is early but safe.
  wake_ = static_cast<TimePoint>(limit) << kTickShift;
  return wake_;
}

}  // namespace volley::engine
