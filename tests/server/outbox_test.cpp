// The Host's Outbox: datagrams of one flush gathered in one arena and handed to the sink as
// views. The arena starts at two full-size datagrams and doubles as the outbox fills, so a
// flush of many datagrams crosses several growths; every view must still show its own bytes.
#include <doctest/doctest.h>

#include <cstdint>
#include <vector>

#include "outbox.hpp"
#include "volley/protocol/enet_wire.hpp"

namespace volley::server {

TEST_CASE("outbox: datagrams queued across arena growths reach the sink intact, in order, in one arena") {
  Outbox outbox;
  const engine::Address to = *engine::Address::from_ip("127.0.0.1", 9000);
  // ~1.4 KB each: the arena (8 KiB at first, always with a full-size datagram free) doubles
  // three times on the way.
  constexpr std::size_t kCount = 24;
  for (std::size_t i = 0; i < kCount; ++i) {
    MutableBytes room = outbox.reserve();
    REQUIRE(room.size() >= protocol::kMaxMtu);
    const std::size_t length = 1400 + i;
    for (std::size_t b = 0; b < length; ++b) room[b] = static_cast<std::uint8_t>(i * 31 + b);
    outbox.commit(length, to.with_port(static_cast<std::uint16_t>(9000 + i)));
  }
  REQUIRE(outbox.size() == kCount);
  std::vector<engine::OutDatagram> seen;
  const std::size_t emitted = outbox.emit([&](std::span<const engine::OutDatagram> out) {
    seen.assign(out.begin(), out.end());
    for (std::size_t i = 0; i < out.size(); ++i) {
      CAPTURE(i);
      REQUIRE(out[i].bytes.size() == 1400 + i);
      CHECK(out[i].to.port() == 9000 + i);
      bool intact = true;
      for (std::size_t b = 0; b < out[i].bytes.size(); ++b)
        intact = intact && out[i].bytes[b] == static_cast<std::uint8_t>(i * 31 + b);
      CHECK(intact);
      // One arena: each datagram follows the one before it.
      if (i > 0) CHECK(out[i].bytes.data() == out[i - 1].bytes.data() + out[i - 1].bytes.size());
    }
  });
  CHECK(emitted == kCount);
  CHECK(seen.size() == kCount);
  CHECK(outbox.size() == 0);
  CHECK(outbox.emit([](std::span<const engine::OutDatagram>) { FAIL("an empty outbox emitted"); }) == 0);
}

}  // namespace volley::server
