// The range coder against its oracle, libenet 1.3.17's own enet_range_coder_compress /
// enet_range_coder_decompress: byte-for-byte equal output on seeded random, datagram-shaped and
// repetitive inputs, decoding in both directions, and hostile inputs that must neither crash nor
// write past the output bound.
#include <doctest/doctest.h>
#include <enet/enet.h>

#include <algorithm>
#include <cstdint>
#include <random>
#include <string>
#include <vector>

#include "support/seed.hpp"
#include "volley/protocol/byte_io.hpp"
#include "volley/protocol/range_coder.hpp"

namespace {

using volley::protocol::Bytes;
using volley::protocol::MutableBytes;
using volley::protocol::store_be16;
using volley::protocol::store_be32;
using volley::protocol::range_coder_compress;
using volley::protocol::range_coder_decompress;
using Buffer = std::vector<std::uint8_t>;

// libenet's decompression buffer: 4096 minus the smallest header, as its receive path uses.
constexpr std::size_t kBodyLimit = 4096;
constexpr std::uint8_t kCanary = 0xA5;
constexpr std::size_t kCanarySize = 64;

// One libenet coder context for the whole run (libenet resets its model per call anyway).
void* enet_context() {
  static void* context = enet_range_coder_create();
  return context;
}

std::size_t enet_compress(const Buffer& in, std::uint8_t* out, std::size_t limit) {
  ENetBuffer buffer;
  buffer.data = const_cast<std::uint8_t*>(in.data());
  buffer.dataLength = in.size();
  return enet_range_coder_compress(enet_context(), &buffer, 1, in.size(), out, limit);
}

std::size_t enet_decompress(const Buffer& in, std::uint8_t* out, std::size_t limit) {
  return enet_range_coder_decompress(enet_context(), in.data(), in.size(), out, limit);
}

// A generous bound so that neither coder fails for lack of room.
std::size_t roomy(std::size_t n) { return 2 * n + 64; }

Buffer ours_compress(const Buffer& in, std::size_t limit) {
  Buffer out(limit);
  out.resize(range_coder_compress(Bytes(in), MutableBytes(out)));
  return out;
}

Buffer theirs_compress(const Buffer& in, std::size_t limit) {
  Buffer out(limit);
  out.resize(enet_compress(in, out.data(), out.size()));
  return out;
}

Buffer ours_decompress(const Buffer& in, std::size_t limit = kBodyLimit) {
  Buffer out(limit);
  out.resize(range_coder_decompress(Bytes(in), MutableBytes(out)));
  return out;
}

Buffer theirs_decompress(const Buffer& in, std::size_t limit = kBodyLimit) {
  Buffer out(limit);
  out.resize(enet_decompress(in, out.data(), out.size()));
  return out;
}

std::string hex_prefix(const Buffer& bytes) {
  static constexpr char kDigits[] = "0123456789abcdef";
  std::string text;
  for (std::size_t i = 0; i < bytes.size() && i < 48; ++i) {
    text += kDigits[bytes[i] >> 4];
    text += kDigits[bytes[i] & 15];
  }
  if (bytes.size() > 48) text += "...";
  return text;
}

std::size_t pick(std::mt19937_64& rng, std::size_t lo, std::size_t hi) {
  return std::uniform_int_distribution<std::size_t>(lo, hi)(rng);
}

std::uint8_t byte(std::mt19937_64& rng) { return static_cast<std::uint8_t>(rng()); }

// --- input generators ------------------------------------------------------------------------

Buffer random_bytes(std::mt19937_64& rng, std::size_t n) {
  Buffer out(n);
  for (auto& b : out) b = byte(rng);
  return out;
}

// Bytes over a small alphabet with a skewed distribution: exercises deep contexts and rescales.
Buffer skewed_bytes(std::mt19937_64& rng, std::size_t n) {
  const std::size_t alphabet = pick(rng, 2, 40);
  std::geometric_distribution<int> dist(0.3);
  Buffer out(n);
  for (auto& b : out) b = static_cast<std::uint8_t>(0x20 + dist(rng) % static_cast<int>(alphabet));
  return out;
}

// Runs and repeated short patterns: counts hit the u8/u16 ceilings and force rescaling.
Buffer repetitive_bytes(std::mt19937_64& rng, std::size_t n) {
  Buffer out;
  out.reserve(n);
  const std::size_t period = pick(rng, 1, 12);
  Buffer pattern = random_bytes(rng, period);
  while (out.size() < n) {
    if (pick(rng, 0, 99) < 3) pattern[pick(rng, 0, period - 1)] = byte(rng);
    out.push_back(pattern[out.size() % period]);
  }
  return out;
}

void put16(Buffer& out, std::uint32_t v) {
  out.resize(out.size() + 2);
  store_be16(out, out.size() - 2, static_cast<std::uint16_t>(v));
}
void put32(Buffer& out, std::uint32_t v) {
  out.resize(out.size() + 4);
  store_be32(out, out.size() - 4, v);
}

// A command stream shaped like what libenet range-codes: acks, pings, sends with small headers
// and text-like or binary payloads, CONNECT-like records with many zero bytes.
Buffer datagram_body(std::mt19937_64& rng, std::size_t limit) {
  Buffer out;
  std::uint32_t rsn = static_cast<std::uint32_t>(pick(rng, 0, 65535));
  const std::uint8_t channel = static_cast<std::uint8_t>(pick(rng, 0, 3));
  while (out.size() + 12 < limit) {
    switch (pick(rng, 0, 5)) {
      case 0:  // ACKNOWLEDGE
        out.push_back(0x01);
        out.push_back(channel);
        put16(out, rsn);
        put16(out, rsn - 1);
        put16(out, static_cast<std::uint32_t>(pick(rng, 0, 65535)));
        break;
      case 1:  // PING
        out.push_back(0x85);
        out.push_back(0xFF);
        put16(out, ++rsn);
        break;
      case 2:  // CONNECT-like
        out.push_back(0x82);
        out.push_back(0xFF);
        put16(out, ++rsn);
        put16(out, 0);
        out.push_back(0xFF);
        out.push_back(0xFF);
        put32(out, 1400);
        put32(out, 65536);
        put32(out, 2);
        put32(out, 0);
        put32(out, 0);
        put32(out, 5000);
        put32(out, 2);
        put32(out, 2);
        put32(out, static_cast<std::uint32_t>(rng()));
        put32(out, 42);
        break;
      default: {  // SEND_RELIABLE with a payload
        const std::size_t room = limit - out.size() - 6;
        const std::size_t length = pick(rng, 0, std::min<std::size_t>(room, 200));
        out.push_back(0x86);
        out.push_back(channel);
        put16(out, ++rsn);
        put16(out, static_cast<std::uint32_t>(length));
        const bool text = pick(rng, 0, 1) == 0;
        for (std::size_t i = 0; i < length; ++i) {
          out.push_back(text ? static_cast<std::uint8_t>('a' + pick(rng, 0, 25)) : byte(rng));
        }
        break;
      }
    }
  }
  return out;
}

// Case `index` of the equivalence corpus: a third random, a third datagram-shaped, a third
// repetitive or skewed; lengths from 1 to 4096 with small sizes over-represented.
Buffer corpus_input(std::mt19937_64& rng, std::size_t index) {
  const std::size_t n = pick(rng, 0, 3) == 0 ? pick(rng, 1, 4096) : pick(rng, 1, 1400);
  switch (index % 3) {
    case 0:
      return random_bytes(rng, n);
    case 1:
      return datagram_body(rng, std::max<std::size_t>(n, 16));
    default:
      return pick(rng, 0, 1) == 0 ? repetitive_bytes(rng, n) : skewed_bytes(rng, n);
  }
}

bool canaries_intact(const Buffer& buffer, std::size_t from) {
  return std::all_of(buffer.begin() + static_cast<std::ptrdiff_t>(from), buffer.end(),
                     [](std::uint8_t b) { return b == kCanary; });
}

}  // namespace

TEST_CASE("range coder: empty input codes to nothing and decodes to nothing") {
  Buffer out(64, kCanary);
  CHECK(range_coder_compress(Bytes(), MutableBytes(out)) == 0);
  CHECK(range_coder_decompress(Bytes(), MutableBytes(out)) == 0);
  CHECK(range_coder_compress(Bytes(), MutableBytes()) == 0);
  CHECK(range_coder_decompress(Bytes(), MutableBytes()) == 0);
  CHECK(canaries_intact(out, 0));
}

TEST_CASE("range coder: every 1-byte input round-trips and equals libenet") {
  for (int v = 0; v < 256; ++v) {
    INFO("byte ", v);
    const Buffer in{static_cast<std::uint8_t>(v)};
    const Buffer ours = ours_compress(in, 64);
    CHECK(ours == theirs_compress(in, 64));
    REQUIRE(!ours.empty());
    CHECK(ours_decompress(ours) == in);
  }
}

TEST_CASE("range coder: CONNECT body from the captured vector (52 -> 34 bytes on the wire)") {
  // Appendix B CONNECT minus its 4-byte header: the body a compressing client codes.
  const Buffer body = {0x82, 0xFF, 0x00, 0x01, 0x00, 0x00, 0xFF, 0xFF, 0x00, 0x00, 0x05, 0x78,
                       0x00, 0x01, 0x00, 0x00, 0x00, 0x00, 0x00, 0x02, 0x00, 0x00, 0x00, 0x00,
                       0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x13, 0x88, 0x00, 0x00, 0x00, 0x02,
                       0x00, 0x00, 0x00, 0x02, 0x8C, 0x5B, 0xCA, 0xD0, 0x00, 0x00, 0x00, 0x2A};
  const Buffer ours = ours_compress(body, body.size());
  CHECK(ours.size() == 30);
  CHECK(ours == theirs_compress(body, body.size()));
  CHECK(ours_decompress(ours) == body);
}

TEST_CASE("range coder: seeded round trips (random, structured, repetitive, 4096 bytes)") {
  for (std::size_t i = 0; i < 300; ++i) {
    VOLLEY_SEEDED_RNG(rng, 1000 + i);
    Buffer in = corpus_input(rng, i);
    if (i % 50 == 0) in = random_bytes(rng, 4096);
    if (i % 50 == 1) in = repetitive_bytes(rng, 4096);
    const Buffer coded = ours_compress(in, roomy(in.size()));
    REQUIRE(!coded.empty());
    CHECK(ours_decompress(coded, std::max(in.size(), kBodyLimit)) == in);
  }
}

TEST_CASE("range coder: output equals libenet byte for byte over 1500 seeded inputs") {
  std::size_t matched = 0;
  std::size_t tight_matched = 0;
  constexpr std::size_t kInputs = 1500;
  for (std::size_t i = 0; i < kInputs; ++i) {
    VOLLEY_SEEDED_RNG(rng, 2000 + i);
    const Buffer in = corpus_input(rng, i);
    const Buffer ours = ours_compress(in, roomy(in.size()));
    const Buffer theirs = theirs_compress(in, roomy(in.size()));
    INFO("input ", hex_prefix(in), " (", in.size(), " bytes)");
    CHECK(ours == theirs);
    if (ours == theirs) ++matched;
    // libenet's sender bounds the output by the input size: both must give up identically.
    const Buffer ours_tight = ours_compress(in, in.size());
    const Buffer theirs_tight = theirs_compress(in, in.size());
    CHECK(ours_tight == theirs_tight);
    if (ours_tight == theirs_tight) ++tight_matched;
  }
  MESSAGE("range coder: ", matched, "/", kInputs, " inputs byte-identical to libenet (roomy), ",
          tight_matched, "/", kInputs, " with the input-sized bound");
  CHECK(matched == kInputs);
  CHECK(tight_matched == kInputs);
}

TEST_CASE("range coder: libenet decodes ours and we decode libenet's") {
  for (std::size_t i = 0; i < 500; ++i) {
    VOLLEY_SEEDED_RNG(rng, 4000 + i);
    const Buffer in = corpus_input(rng, i);
    const std::size_t limit = std::max(in.size(), kBodyLimit);
    const Buffer ours = ours_compress(in, roomy(in.size()));
    const Buffer theirs = theirs_compress(in, roomy(in.size()));
    REQUIRE(!ours.empty());
    REQUIRE(!theirs.empty());
    CHECK(theirs_decompress(ours, limit) == in);
    CHECK(ours_decompress(theirs, limit) == in);
  }
}

TEST_CASE("range coder: corrupt, truncated and random inputs never crash or overrun") {
  // libenet decodes garbage deterministically too; matching it there as well shows the model
  // arithmetic (wrapping widths, signed comparisons) is the same, not just the happy path.
  std::size_t same_as_libenet = 0;
  constexpr std::size_t kInputs = 1500;
  for (std::size_t i = 0; i < kInputs; ++i) {
    VOLLEY_SEEDED_RNG(rng, 6000 + i);
    Buffer coded;
    switch (i % 4) {
      case 0:  // pure garbage
        coded = random_bytes(rng, pick(rng, 1, 300));
        break;
      case 1: {  // a valid stream with a few bits flipped
        coded = ours_compress(corpus_input(rng, i), 8192);
        const std::size_t flips = pick(rng, 1, 4);
        for (std::size_t f = 0; f < flips && !coded.empty(); ++f) {
          coded[pick(rng, 0, coded.size() - 1)] ^= static_cast<std::uint8_t>(1U << pick(rng, 0, 7));
        }
        break;
      }
      case 2: {  // a valid stream cut short
        coded = ours_compress(corpus_input(rng, i), 8192);
        coded.resize(pick(rng, 0, coded.size()));
        break;
      }
      default: {  // a valid stream with garbage spliced in
        coded = ours_compress(corpus_input(rng, i), 8192);
        const std::size_t at = pick(rng, 0, coded.size());
        const Buffer junk = random_bytes(rng, pick(rng, 1, 16));
        coded.insert(coded.begin() + static_cast<std::ptrdiff_t>(at), junk.begin(), junk.end());
        break;
      }
    }
    const std::size_t bound = pick(rng, 0, 1) == 0 ? kBodyLimit : pick(rng, 0, 64);
    Buffer out(bound + kCanarySize, kCanary);
    const std::size_t n = range_coder_decompress(Bytes(coded), MutableBytes(out.data(), bound));
    INFO("input ", hex_prefix(coded), " bound ", bound);
    CHECK(n <= bound);
    CHECK(canaries_intact(out, bound));
    const Buffer ours(out.begin(), out.begin() + static_cast<std::ptrdiff_t>(n));
    const Buffer theirs = theirs_decompress(coded, bound);
    CHECK(ours == theirs);
    if (ours == theirs) ++same_as_libenet;
  }
  MESSAGE("range coder: ", same_as_libenet, "/", kInputs,
          " hostile inputs decoded exactly as libenet does");
}

TEST_CASE("range coder: a bounded output fails cleanly instead of overrunning") {
  VOLLEY_SEEDED_RNG(rng, 9000);
  for (std::size_t i = 0; i < 100; ++i) {
    const Buffer in = corpus_input(rng, i);
    const Buffer coded = ours_compress(in, roomy(in.size()));
    REQUIRE(!coded.empty());

    // Decompression into one byte less than needed fails; exactly enough succeeds.
    Buffer small(in.size() - 1 + kCanarySize, kCanary);
    CHECK(range_coder_decompress(Bytes(coded), MutableBytes(small.data(), in.size() - 1)) == 0);
    CHECK(canaries_intact(small, in.size() - 1));
    CHECK(ours_decompress(coded, in.size()) == in);

    // Compression into one byte less than its result fails without writing past the bound.
    Buffer tight(coded.size() - 1 + kCanarySize, kCanary);
    CHECK(range_coder_compress(Bytes(in), MutableBytes(tight.data(), coded.size() - 1)) == 0);
    CHECK(canaries_intact(tight, coded.size() - 1));
    CHECK(ours_compress(in, coded.size()) == coded);
  }
}
