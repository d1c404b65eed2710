// The per-peer timers behind Peer::next_deadline(), as one table sized by PeerTimer::kCount.
// Each entry is an absolute instant or nullopt (never 0 as "unset"; see STYLE pitfall 3).
#pragma once

#include <algorithm>
#include <array>
#include <cstddef>
#include <optional>

#include "volley/protocol/time.hpp"

namespace volley::protocol::detail {

enum class PeerTimer : std::uint8_t {
  kResend,   // oldest unacked reliable command reaches its RTO (libenet peer->nextTimeout)
  kPing,     // idle CONNECTED peer owes a keepalive PING
  kFlush,    // output is ready now (acks, queued commands, a final DISCONNECT)
  kCount
};

class TimerTable {
 public:
  void set(PeerTimer timer, std::optional<TimePoint> at) { at_[index(timer)] = at; }
  std::optional<TimePoint> get(PeerTimer timer) const { return at_[index(timer)]; }
  std::optional<TimePoint> earliest() const {
    std::optional<TimePoint> best;
    for (const auto& at : at_)
      if (at && (!best || *at < *best)) best = at;
    return best;
  }

 private:
  static std::size_t index(PeerTimer timer) { return static_cast<std::size_t>(timer); }
  std::array<std::optional<TimePoint>, static_cast<std::size_t>(PeerTimer::kCount)> at_{};
};

}  // namespace volley::protocol::detail
