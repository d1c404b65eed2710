// The one big-endian reader / writer (volley/protocol/byte_io.hpp): network byte order, and
// bounds that fail softly and stay failed.
#include <doctest/doctest.h>

#include <array>
#include <vector>

#include "volley/protocol/byte_io.hpp"

using namespace volley::protocol;

TEST_CASE("byte_io: loads and stores are big-endian at any offset") {
  std::array<std::uint8_t, 7> b{};
  store_be16(b, 1, 0x1234);
  store_be32(b, 3, 0xA1B2C3D4);
  CHECK(b == std::array<std::uint8_t, 7>{0, 0x12, 0x34, 0xA1, 0xB2, 0xC3, 0xD4});
  CHECK(load_be16(b, 1) == 0x1234);
  CHECK(load_be32(b, 3) == 0xA1B2C3D4);
  CHECK(load_be32(b, 2) == 0x34A1B2C3);
  static_assert(load_be16(std::array<std::uint8_t, 2>{0xFF, 0x01}) == 0xFF01);
}

TEST_CASE("byte_io: the reader stops at the end and stays failed") {
  const std::vector<std::uint8_t> bytes{0x01, 0x02, 0x03, 0x04, 0x05, 0x06, 0x07};
  ByteReader r(bytes);
  CHECK(r.u8() == 0x01);
  CHECK(r.u16() == 0x0203);
  CHECK(r.u32() == 0x04050607);
  CHECK(r.ok());
  CHECK(r.remaining() == 0);
  CHECK(r.u8() == 0);
  CHECK_FALSE(r.ok());
  ByteReader short_read(bytes);
  CHECK(short_read.bytes(8).empty());
  CHECK_FALSE(short_read.ok());
  CHECK(short_read.u8() == 0);  // a failed reader never resumes
}

TEST_CASE("byte_io: the writer never writes past its span") {
  std::array<std::uint8_t, 5> out{};
  ByteWriter w(out);
  w.u16(0xBEEF);
  w.u32(0x01020304);  // needs 4, has 3
  CHECK_FALSE(w.ok());
  CHECK(w.size() == 2);
  w.u8(0x55);  // failed: stays failed
  CHECK(out == std::array<std::uint8_t, 5>{0xBE, 0xEF, 0, 0, 0});
  std::array<std::uint8_t, 3> tail{};
  ByteWriter exact(tail);
  exact.bytes(std::array<std::uint8_t, 3>{7, 8, 9});
  CHECK(exact.ok());
  CHECK(tail == std::array<std::uint8_t, 3>{7, 8, 9});
}
