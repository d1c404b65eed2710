// The demo game's events that the snapshot sender had no room for. The sender's pending window
// holds CodecConfig::max_events (256) events until every client acknowledges them; that is a wire
// limit (clients' decoders refuse a snapshot carrying more), so it cannot simply grow. A connect
// ramp fills it (one "created" event per join), so the game holds what does not fit here, in
// raise order, and offers it again each tick as acknowledgements free the window: an event waits
// instead of being lost. Bounded: past `capacity` an event is refused and counted.
#pragma once

#include <cstddef>
#include <cstdint>
#include <deque>
#include <span>
#include <vector>

#include <volley/snapshot/event.hpp>

namespace volley::demo {

struct EventBacklogCounters {
  std::uint64_t raised = 0;    // accepted by the sender (at once or from the backlog)
  std::uint64_t deferred = 0;  // waited in the backlog first (also counted in raised once out)
  std::uint64_t refused = 0;   // lost: the backlog was full, or the payload is over the limit
  std::uint64_t peak = 0;      // the most events held at once
};

class EventBacklog {
 public:
  explicit EventBacklog(std::size_t capacity) : capacity_(capacity) {}

  // Raises through `raise(kind, payload) -> bool` (the sender accepted it) unless earlier events
  // still wait: a later event never overtakes them. Returns false only if the event is lost.
  template <typename Raise>
  bool raise(std::uint16_t kind, std::span<const std::uint8_t> payload, Raise&& raise) {
    if (payload.size() > snapshot::kMaxEventPayload) {
      ++counters_.refused;  // the sender would refuse it for ever: do not let it block the rest
      return false;
    }
    if (held_.empty() && raise(kind, payload)) {
      ++counters_.raised;
      return true;
    }
    if (held_.size() >= capacity_) {
      ++counters_.refused;
      return false;
    }
    held_.push_back(Held{kind, std::vector<std::uint8_t>(payload.begin(), payload.end())});
    ++counters_.deferred;
    if (held_.size() > counters_.peak) counters_.peak = held_.size();
    return true;
  }

  // Offers the held events, oldest first, until the sender refuses one. Once a tick.
  template <typename Raise>
  void drain(Raise&& raise) {
    while (!held_.empty() && raise(held_.front().kind, std::span<const std::uint8_t>(held_.front().payload))) {
      held_.pop_front();
      ++counters_.raised;
    }
  }

  std::size_t size() const noexcept { return held_.size(); }
  const EventBacklogCounters& counters() const noexcept { return counters_; }

 private:
  struct Held {
    std::uint16_t kind;
    std::vector<std::uint8_t> payload;
  };
  std::size_t capacity_;
  std::deque<Held> held_;
  EventBacklogCounters counters_;
};

}  // namespace volley::demo
