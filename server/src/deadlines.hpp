// Keeps one timer per slot in a timer wheel it does not own (TimerPort: the engine's wheel, in
// the server and in the Host tests), never later than the slot's Peer::next_deadline(). The port
// is called only when the deadline changes, and for a later deadline only when the timer would
// fire within kDeferHorizon: a timer further off stays where it is, and if it fires before the
// deadline the Host re-arms it. A peer's keepalive deadline moves later with every datagram from
// it, so moving its timer (about a second off) each time cost a wheel unlink, link and wake-time
// rescan per datagram; now it moves once the timer is within the horizon. A resend timer (a
// round-trip timeout off) that an ACK pushes later is moved as before: firing early would cost
// more than the move.
// A peer with nothing due holds no timer at all.
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
  std::uint64_t moved = 0;     // earlier, or later with the timer within kDeferHorizon
  std::uint64_t deferred = 0;  // a later deadline, the timer beyond kDeferHorizon: left alone
  std::uint64_t disarmed = 0;
  std::uint64_t fired = 0;
};

class Deadlines {
 public:
  explicit Deadlines(TimerPort& port) : port_(port) {}

  // Longer than libenet's ping period (500 ms plus a round trip): an idle stock client's next
  // ping moves its timer. At 100 ms the timer was left about half a keepalive wait off and fired
  // just before that ping, once per cycle per idle peer, whenever the period came out a little
  // over half the wait (BENCHMARKS.md, sixth session).
  static constexpr TimePoint kDeferHorizon = 600 * volley::kMillisecond;

  void update(std::uint32_t slot, std::optional<TimePoint> next, TimePoint now);
  // The port ran the slot's timer: it is gone.
  void fired(std::uint32_t slot);
  void clear(std::uint32_t slot) { update(slot, std::nullopt, 0); }
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
