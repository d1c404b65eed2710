// Events that must not be missed (chat, entity created or destroyed, game-defined): a 64-bit
// unique id assigned by the server, a kind and a small payload. They ride in every snapshot until
// acknowledged; the Receiver delivers each id once.
#pragma once

#include <cstddef>
#include <cstdint>
#include <vector>

namespace volley::snapshot {

inline constexpr std::size_t kMaxEventPayload = 255;

struct Event {
  std::uint64_t id = 0;
  std::uint16_t kind = 0;
  std::vector<std::uint8_t> payload;  // at most kMaxEventPayload bytes
  bool operator==(const Event&) const = default;
};

}  // namespace volley::snapshot
