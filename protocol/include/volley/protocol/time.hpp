// Protocol time: the shared volley::TimePoint (integer microseconds), passed in by the caller
// (the protocol layer never reads a clock). ENet's 32-bit millisecond clock is derived from it
// only where libenet's millisecond arithmetic has to be reproduced (RTT, RTO, the wire sentTime).
#pragma once

#include <cstdint>

#include "volley/vocabulary/time.hpp"

namespace volley::protocol {

using volley::TimePoint;  // microseconds on the caller's monotonic clock

inline constexpr TimePoint kMicrosPerMilli = 1000;

// Whole milliseconds (floor), as a wide integer: differences of these equal libenet's
// ENET_TIME_DIFFERENCE for any two instants less than 49 days apart.
constexpr std::int64_t whole_ms(TimePoint t) noexcept {
  return t >= 0 ? t / kMicrosPerMilli : -((-t + kMicrosPerMilli - 1) / kMicrosPerMilli);
}

// ENet's wrapping u32 millisecond clock (libenet time.h / enet_time_get).
constexpr std::uint32_t enet_ms(TimePoint t) noexcept {
  return static_cast<std::uint32_t>(static_cast<std::uint64_t>(whole_ms(t)));
}

// The instant at which a whole-millisecond count begins.
constexpr TimePoint from_ms(std::int64_t ms) noexcept { return ms * kMicrosPerMilli; }

}  // namespace volley::protocol
