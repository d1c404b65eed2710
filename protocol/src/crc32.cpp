// Table-driven CRC-32 (one byte per step). The table is built at compile time, so there is no
// first-use race and no static initialisation order to worry about.
#include "volley/protocol/crc32.hpp"

#include <array>

namespace volley::protocol {
namespace {

constexpr std::array<std::uint32_t, 256> make_table() {
  std::array<std::uint32_t, 256> table{};
  for (std::uint32_t i = 0; i < 256; ++i) {
    std::uint32_t c = i;
    for (int bit = 0; bit < 8; ++bit) c = (c & 1u) ? (0xEDB88320u ^ (c >> 1)) : (c >> 1);
    table[i] = c;
  }
  return table;
}

constexpr auto kTable = make_table();

}  // namespace

std::uint32_t crc32_update(std::uint32_t state, std::span<const std::uint8_t> bytes) noexcept {
  for (const std::uint8_t b : bytes) state = kTable[(state ^ b) & 0xFFu] ^ (state >> 8);
  return state;
}

}  // namespace volley::protocol
