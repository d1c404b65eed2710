// Input messages: round trip with and without an acknowledgement, and every malformed class.
#include <doctest/doctest.h>

#include <array>
#include <vector>

#include "volley/snapshot/session.hpp"

using namespace volley::snapshot;

TEST_CASE("session: input messages round trip, with and without an ack") {
  const std::vector<std::uint8_t> game = {1, 2, 3, 250};
  std::array<std::uint8_t, 64> buf{};
  for (const std::optional<std::uint32_t> ack : {std::optional<std::uint32_t>{},
                                                 std::optional<std::uint32_t>{0},
                                                 std::optional<std::uint32_t>{0xFFFFFFFFu}}) {
    const std::size_t n = encode_input(ack, game, buf);
    REQUIRE(n == kInputHeaderBytes + game.size());
    const auto input = decode_input(std::span(buf.data(), n));
    REQUIRE(input.has_value());
    CHECK(input->ack == ack);
    CHECK(std::vector<std::uint8_t>(input->bytes.begin(), input->bytes.end()) == game);
  }
  const std::size_t empty = encode_input(7u, {}, buf);
  REQUIRE(empty == kInputHeaderBytes);
  CHECK(decode_input(std::span(buf.data(), empty))->bytes.empty());
}

TEST_CASE("session: malformed input messages are refused") {
  std::array<std::uint8_t, kInputHeaderBytes + kMaxInputBytes + 1> buf{};
  const std::vector<std::uint8_t> game = {9, 9};
  const std::size_t n = encode_input(42u, game, buf);
  const std::span<const std::uint8_t> good(buf.data(), n);
  REQUIRE(decode_input(good).has_value());
  CHECK_FALSE(decode_input(good.first(kInputHeaderBytes - 1)).has_value());  // short
  for (const std::size_t at : {0u, 1u, 2u}) {                                  // magic, version
    auto bad = std::vector<std::uint8_t>(good.begin(), good.end());
    bad[at] ^= 0x40;
    CHECK_FALSE(decode_input(bad).has_value());
  }
  auto flags = std::vector<std::uint8_t>(good.begin(), good.end());
  flags[3] |= 0x80;  // unknown flag
  CHECK_FALSE(decode_input(flags).has_value());
  // No ack flag but a frame number: one message, one encoding (found by the snapshot fuzz target).
  const std::size_t no_ack = encode_input(std::nullopt, game, buf);
  auto stray = std::vector<std::uint8_t>(buf.begin(), buf.begin() + static_cast<std::ptrdiff_t>(no_ack));
  REQUIRE(decode_input(stray).has_value());
  stray[4] = 1;
  CHECK_FALSE(decode_input(stray).has_value());
  // Game bytes over the limit: refused on both sides.
  const std::vector<std::uint8_t> big(kMaxInputBytes + 1, 5);
  CHECK(encode_input(1u, big, buf) == 0);
  const std::size_t at_limit = encode_input(1u, std::span(big).first(kMaxInputBytes), buf);
  REQUIRE(at_limit == kInputHeaderBytes + kMaxInputBytes);
  CHECK(decode_input(std::span(buf.data(), at_limit)).has_value());
  CHECK_FALSE(decode_input(std::span(buf.data(), at_limit + 1)).has_value());
  CHECK(encode_input(1u, game, std::span(buf.data(), kInputHeaderBytes + 1)) == 0);  // no room
}
