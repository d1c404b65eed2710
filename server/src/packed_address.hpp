// PackedAddress: an engine::Address reduced once per datagram to fixed words (IP, scope, port,
// family) that compare and hash without looking at the sockaddr again. An IPv4-mapped IPv6
// sender (a dual-stack socket's view of an IPv4 client) packs exactly like the IPv4 address, so
// routing needs no separate unmapped() copy. Equal packed forms <=> Address::operator== of the
// unmapped addresses (family, port, IP, IPv6 scope; flowinfo and padding ignored).
#pragma once

#include <array>
#include <cstdint>

#include "volley/engine/udp.hpp"

namespace volley::server {

struct PackedAddress {
  std::array<std::uint32_t, 4> ip{};  // the 16 IPv6 bytes; IPv4 as ::ffff:a.b.c.d
  std::uint32_t scope = 0;            // IPv6 scope id; 0 for IPv4
  std::uint16_t port = 0;             // as stored in the sockaddr (network order)
  std::uint8_t family = 0;            // engine::AddressFamily of the unmapped form
  std::uint8_t zero = 0;              // padding kept zero so == is exact

  static PackedAddress of(const engine::Address& address) noexcept;

  // The whole client IP (any port): the per-IP cap's key.
  PackedAddress any_port() const noexcept {
    PackedAddress out = *this;
    out.port = 0;
    return out;
  }
  bool operator==(const PackedAddress&) const = default;

  // Keyed hash of this address plus `extra` (a peer id or connectID). `seed` is secret per
  // Host, so remote senders cannot aim their addresses at one probe chain.
  std::uint64_t hash(std::uint64_t seed, std::uint32_t extra) const noexcept {
    constexpr std::uint64_t k = 0x9E3779B97F4A7C15ull;
    auto mix = [](std::uint64_t x) noexcept {
      x *= 0xBF58476D1CE4E5B9ull;
      return x ^ (x >> 31);
    };
    std::uint64_t h = seed ^ (static_cast<std::uint64_t>(extra) * k);
    h = mix(h ^ (ip[0] | static_cast<std::uint64_t>(ip[1]) << 32));
    h = mix(h ^ (ip[2] | static_cast<std::uint64_t>(ip[3]) << 32));
    h = mix(h ^ (scope | static_cast<std::uint64_t>(port) << 32 | static_cast<std::uint64_t>(family) << 48));
    return h;
  }
};

static_assert(sizeof(PackedAddress) == 24);

}  // namespace volley::server
