// Mirrors each slot's Peer::next_deadline() into a timer wheel it does not own (TimerPort: the
// engine's wheel in the server, a plain ordered map in tests). One timer per slot at most, and
// the port is called only when the deadline actually changes, so a peer whose deadline stands
// still costs nothing per batch and a peer with nothing due holds no timer at all.
#pragma once

#include <cstdint>
#include <optional>
#include <vector>

#include "volley/vocabulary/handle.hpp"
#include "volley/vocabulary/time.hpp"

namespace volley::server {

class TimerPort {
 public:
  virtual ~TimerPort() = default;
  // Arrange a call of Host::on_timer(slot) at `at`.
  virtual TimerId arm(std::uint32_t slot, TimePoint at) = 0;
  virtual void move(TimerId token, TimePoint at) = 0;
  virtual void disarm(TimerId token) = 0;
};

struct DeadlineOps {
  std::uint64_t armed = 0;
  std::uint64_t moved = 0;
  std::uint64_t disarmed = 0;
  std::uint64_t fired = 0;
};

class Deadlines {
 public:
  explicit Deadlines(TimerPort& port) : port_(port) {}

  void update(std::uint32_t slot, std::optional<TimePoint> next);
  // The port ran the slot's timer: it is gone.
  void fired(std::uint32_t slot);
  void clear(std::uint32_t slot) { update(slot, std::nullopt); }
  std::optional<TimePoint> armed_at(std::uint32_t slot) const;
  const DeadlineOps& ops() const noexcept { return ops_; }

 private:
  struct Entry {
    TimerId token;
    TimePoint at = 0;
    bool armed = false;
  };
  Entry& entry(std::uint32_t slot);

  TimerPort& port_;
  std::vector<Entry> entries_;
  DeadlineOps ops_;
};

}  // namespace volley::server
