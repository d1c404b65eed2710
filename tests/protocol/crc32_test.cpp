#include <doctest/doctest.h>

#include <string_view>

#include "volley/protocol/crc32.hpp"

using namespace volley::protocol;

TEST_CASE("crc32: the IEEE check value, as libenet stores it") {
  constexpr std::string_view text = "123456789";
  const auto* p = reinterpret_cast<const std::uint8_t*>(text.data());
  CHECK(crc32({p, text.size()}) == 0xCBF43926u);
}

TEST_CASE("crc32: incremental updates equal one pass") {
  std::uint8_t data[300];
  for (int i = 0; i < 300; ++i) data[i] = static_cast<std::uint8_t>(i * 7 + 3);
  const std::uint32_t whole = crc32(data);
  for (std::size_t split : {0u, 1u, 4u, 150u, 299u, 300u}) {
    CAPTURE(split);
    std::uint32_t state = crc32_update(kCrc32Init, std::span(data, split));
    state = crc32_update(state, std::span(data + split, 300 - split));
    CHECK(crc32_final(state) == whole);
  }
  CHECK(crc32({}) == 0u);
}
