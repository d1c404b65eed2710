// ENet's optional datagram checksum (libenet packet.c enet_crc32): the zlib/IEEE CRC-32,
// reflected polynomial 0xEDB88320, init and final XOR 0xFFFFFFFF.
#pragma once

#include <cstdint>
#include <span>

namespace volley::protocol {

// Incremental form: crc32_update(crc32_update(kCrc32Init, a), b) == crc of a followed by b.
inline constexpr std::uint32_t kCrc32Init = 0xFFFFFFFFu;
std::uint32_t crc32_update(std::uint32_t state, std::span<const std::uint8_t> bytes) noexcept;
inline std::uint32_t crc32_final(std::uint32_t state) noexcept { return state ^ 0xFFFFFFFFu; }
inline std::uint32_t crc32(std::span<const std::uint8_t> bytes) noexcept {
  return crc32_final(crc32_update(kCrc32Init, bytes));
}

}  // namespace volley::protocol
