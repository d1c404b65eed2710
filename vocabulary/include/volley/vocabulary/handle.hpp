// A generational handle: {index, generation} into a pool whose slots are reused. Releasing a
// slot bumps its generation, so a handle kept past the release simply stops resolving. The Tag
// keeps handles of different pools from converting into each other.
#pragma once

#include <cstdint>

namespace volley {

template <class Tag>
struct Handle {
  std::uint32_t index = 0;
  std::uint32_t generation = 0;  // 0 never names a live entry
  explicit operator bool() const noexcept { return generation != 0; }
  bool operator==(const Handle&) const = default;
};

// A timer in a timer wheel (engine::Loop's, or a test's stand-in for it).
using TimerId = Handle<struct TimerTag>;
// A connected peer of a server (the public API and its Host use the same handle).
using PeerHandle = Handle<struct PeerTag>;

}  // namespace volley
