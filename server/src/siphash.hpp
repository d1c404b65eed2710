// SipHash-2-4 (Aumasson and Bernstein, "SipHash: a fast short-input PRF", 2012): a keyed 64-bit
// hash whose outputs an attacker who does not know the 128-bit key cannot predict or steer. The
// handshake cookie (handshake_table.hpp) and the half-open table's indexes use it, so neither a
// cookie nor a hash-bucket collision can be forged from outside.
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>
#include <span>

namespace volley::server {

using SipKey = std::array<std::uint8_t, 16>;

std::uint64_t siphash24(const SipKey& key, std::span<const std::uint8_t> message) noexcept;

}  // namespace volley::server
