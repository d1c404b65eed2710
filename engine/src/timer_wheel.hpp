// TimerWheel: a hashed timing wheel owning every timer of one loop. Pure: time is passed in.
// Schedule, cancel and reschedule are O(1) (intrusive lists in a slab, handles are index plus
// generation); advance() sorts only the timers that are due, by (deadline, scheduling sequence),
// so equal deadlines fire in the order they were scheduled.
#pragma once

#include <cstdint>
#include <optional>
#include <vector>

#include "volley/engine/loop.hpp"

namespace volley::engine {

class TimerWheel {
 public:
  // 1024 µs ticks x 4096 slots: one round is ~4.2 s, longer than the deadlines a game server
  // keeps (ping, resend, ack), so most timers are visited once or twice before they fire.
  static constexpr int kTickShift = 10;
  static constexpr std::uint32_t kSlots = 4096;

  explicit TimerWheel(TimePoint start);

  TimerId schedule(TimePoint deadline, TimerCallback callback);
  bool cancel(TimerId id);
  bool reschedule(TimerId id, TimePoint deadline);
  // Fires, in (deadline, sequence) order, every timer with deadline <= now. Callbacks may
  // schedule, cancel and reschedule freely; timers they make due fire on the next advance().
  void advance(TimePoint now);
  // Earliest time worth waking for (a real deadline, or a safe earlier hint); nullopt if empty.
  std::optional<TimePoint> next_wake() {
    if (wake_valid_) return wake_;  // inline: the loop asks twice a pass, mostly of a valid cache
    return rescan_wake();
  }
  std::size_t size() const noexcept { return live_; }

 private:
  static constexpr std::uint32_t kNil = 0xffffffffu;
  enum class State : std::uint8_t { kFree, kLinked, kDue, kFiring };

  struct Node {
    TimePoint deadline = 0;
    std::int64_t tick = 0;       // slot tick this node is linked under
    std::uint64_t seq = 0;
    std::uint32_t prev = kNil;
    std::uint32_t next = kNil;
    std::uint32_t generation = 1;
    State state = State::kFree;
    TimerCallback callback;
  };
  struct Due {
    TimePoint deadline;
    std::uint64_t seq;
    std::uint32_t index;
  };

  static std::int64_t tick_of(TimePoint t) noexcept { return t >> kTickShift; }
  Node* lookup(TimerId id) noexcept;
  void link(std::uint32_t index, TimePoint deadline);
  void unlink(std::uint32_t index) noexcept;
  void release(std::uint32_t index) noexcept;
  void note_deadline(TimePoint deadline) noexcept;
  std::int64_t next_occupied(std::int64_t from_tick, std::int64_t limit_tick) const noexcept;
  void fire(const Due& due);
  std::optional<TimePoint> rescan_wake();

  std::vector<Node> nodes_;
  std::vector<std::uint32_t> free_;
  std::vector<std::uint32_t> heads_;
  std::vector<std::uint64_t> occupied_;  // one bit per slot: head != kNil
  std::uint64_t occupied_words_ = 0;     // one bit per occupied_ word: that word != 0
  std::vector<Due> due_;
  std::int64_t current_tick_;
  std::uint64_t next_seq_ = 1;
  std::size_t live_ = 0;
  bool wake_valid_ = false;
  std::optional<TimePoint> wake_;
};

}  // namespace volley::engine
