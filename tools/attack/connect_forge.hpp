// A forged CONNECT as libenet 1.3.17 sends it (enet-protocol.md 3.1): header to peer 0xFFF with a
// sent time, one CONNECT (ACKNOWLEDGE flag, peer-level channel, RSN 1) with a random connectID,
// client slot and sent time, so every forged CONNECT is a distinct handshake to the server.
#pragma once

#include <cstddef>

#include "rng.hpp"
#include "volley/vocabulary/bytes.hpp"

namespace volley::attack {

inline constexpr std::size_t kForgedConnectBytes = 52;  // 4 header + 48 CONNECT

// Writes one CONNECT into `out`; returns its length (0 if `out` is too small).
std::size_t forge_connect(Rng& rng, MutableBytes out) noexcept;

}  // namespace volley::attack
