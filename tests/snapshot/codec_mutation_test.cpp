// Thousands of seeded mutations of real snapshots never crash the decoder or the receiver (run
// it under the asan preset too). Mutations hit the packet as sent (mostly caught by zstd) and the
// FlatBuffer body recompressed behind a valid header (reaching the verifier and the stream
// decoder). Every outcome must be a named error, or a frame that passes the encoder's own rules.
#include <doctest/doctest.h>
#include <zstd.h>

#include <array>
#include <vector>

#include "snapshot/world.hpp"
#include "support/seed.hpp"
#include "volley/snapshot/codec.hpp"
#include "volley/snapshot/receiver.hpp"
#include "wire.hpp"

using namespace volley::snapshot;

namespace {

struct Sample {
  std::vector<std::uint8_t> packet, body;
  const Frame* base;
};

void mutate(std::mt19937_64& rng, std::vector<std::uint8_t>& v, std::size_t protect) {
  const std::size_t edits = 1 + rng() % 4;
  for (std::size_t e = 0; e < edits; ++e) {
    if (v.size() <= protect) v.push_back(static_cast<std::uint8_t>(rng()));
    const std::size_t at = protect + rng() % (v.size() - protect);
    switch (rng() % 6) {
      case 0: v[at] ^= static_cast<std::uint8_t>(1u << (rng() % 8)); break;
      case 1: v[at] = static_cast<std::uint8_t>(rng()); break;
      case 2: v[at] = (rng() & 1) ? 0xFF : 0x00; break;
      case 3: v.resize(at + 1); break;
      case 4: v.insert(v.begin() + static_cast<std::ptrdiff_t>(at), static_cast<std::uint8_t>(rng())); break;
      default: {  // overwrite a 32-bit little-endian word with an interesting value
        static constexpr std::array<std::uint32_t, 6> kWords{0, 1, 0x7FFFFFFF, 0x80000000, 0xFFFFFFFF, 65537};
        const std::uint32_t w = kWords[rng() % kWords.size()];
        for (int i = 0; i < 4 && at + i < v.size(); ++i) v[at + i] = static_cast<std::uint8_t>(w >> (8 * i));
      }
    }
  }
}

bool frame_follows_rules(const Schema& schema, const Frame& f, const CodecConfig& config) {
  if (f.size() > config.max_entities) return false;
  for (std::size_t i = 0; i < f.size(); ++i) {
    if (i > 0 && f.id(i) <= f.id(i - 1)) return false;
    if (f.type(i) >= schema.type_count()) return false;
    const auto widths = schema.fields(f.type(i));
    if (f.values(i).size() != widths.size()) return false;
    for (std::size_t k = 0; k < widths.size(); ++k)
      if (!fits(widths[k], f.values(i)[k])) return false;
  }
  return true;
}

}  // namespace

TEST_CASE("mutated real snapshots never crash the decoder, every outcome is named") {
  VOLLEY_SEEDED_RNG(rng, 30);
  const Schema schema = volley::test::test_schema();
  CodecConfig config;
  config.max_packet_bytes = 16 * 1024;
  Encoder encoder(schema, config);
  Decoder decoder(schema, config);

  std::vector<Frame> frames{volley::test::random_frame(rng, schema, 120, 1)};
  for (std::uint32_t n = 2; n <= 12; ++n)
    frames.push_back(volley::test::evolve(rng, schema, frames.back(), 0.4, n));
  std::vector<Sample> corpus;
  std::vector<std::uint8_t> out(64 * 1024);
  for (std::size_t i = 0; i < frames.size(); ++i) {
    const Frame* base = i >= 3 ? &frames[i - 3] : nullptr;
    const std::size_t n = encoder.encode(base, frames[i], volley::test::random_events(rng, 100 + i, i % 4), out);
    REQUIRE(n > 0);
    const auto body = encoder.last_body();
    corpus.push_back({{out.begin(), out.begin() + static_cast<std::ptrdiff_t>(n)}, {body.begin(), body.end()}, base});
  }

  std::array<int, static_cast<std::size_t>(DecodeError::kCount)> seen{};
  constexpr int kMutations = 6000;
  Frame got;
  std::vector<Event> events;
  std::vector<std::uint8_t> packet;
  for (int m = 0; m < kMutations; ++m) {
    const Sample& s = corpus[rng() % corpus.size()];
    if (m % 2 == 0) {  // the packet as sent, header included
      packet = s.packet;
      mutate(rng, packet, 0);
    } else {  // the body, recompressed behind the original header
      std::vector<std::uint8_t> body = s.body;
      mutate(rng, body, 0);
      packet.assign(kHeaderBytes + ZSTD_compressBound(body.size()), 0);
      std::copy(s.packet.begin(), s.packet.begin() + kHeaderBytes, packet.begin());
      const std::size_t n = ZSTD_compress(packet.data() + kHeaderBytes, packet.size() - kHeaderBytes,
                                          body.data(), body.size(), 1);
      REQUIRE(!ZSTD_isError(n));
      packet.resize(kHeaderBytes + n);
    }
    const DecodeError e = decoder.decode(packet, s.base, got, events);
    REQUIRE(static_cast<int>(e) < static_cast<int>(DecodeError::kCount));
    ++seen[static_cast<std::size_t>(e)];
    if (e == DecodeError::kOk) {
      CHECK(frame_follows_rules(schema, got, config));
      CHECK(events.size() <= config.max_events);
    }
  }
  for (std::size_t i = 0; i < seen.size(); ++i)
    if (seen[i] > 0) MESSAGE(decode_error_name(static_cast<DecodeError>(i)), ": ", seen[i]);
  // The body mutations must get past zstd and reach the deeper checks.
  CHECK(seen[static_cast<std::size_t>(DecodeError::kVerifyFailed)] > 0);
  CHECK(seen[static_cast<std::size_t>(DecodeError::kBadChecksum)] > 0);
  CHECK(seen[static_cast<std::size_t>(DecodeError::kCorruptCompression)] > 0);
  CHECK(seen[static_cast<std::size_t>(DecodeError::kOk)] < kMutations / 10);
}

TEST_CASE("a receiver fed mutated packets in random order keeps working and counts every drop") {
  VOLLEY_SEEDED_RNG(rng, 31);
  const Schema schema = volley::test::test_schema();
  Encoder encoder(schema, CodecConfig{});
  Receiver receiver(schema, CodecConfig{});
  std::vector<Frame> frames{volley::test::random_frame(rng, schema, 80, 1)};
  std::vector<std::uint8_t> out(64 * 1024), packet;
  std::vector<Event> events;
  std::uint64_t rejected = 0;
  for (std::uint32_t n = 2; n < 400; ++n) {
    frames.push_back(volley::test::evolve(rng, schema, frames.back(), 0.3, n));
    // As the server does: against the newest frame the receiver acknowledged.
    const Frame* base = receiver.ack() ? &frames[*receiver.ack() - 1] : nullptr;
    const std::size_t size = encoder.encode(base, frames.back(), {}, out);
    REQUIRE(size > 0);
    packet.assign(out.begin(), out.begin() + static_cast<std::ptrdiff_t>(size));
    const bool damaged = rng() % 3 == 0;
    if (damaged) mutate(rng, packet, kHeaderBytes);  // the header intact: reaches the decoder
    const ReceiveResult r = receiver.receive(packet, events);
    if (r == ReceiveResult::kBadChecksum || r == ReceiveResult::kCorrupt) ++rejected;
    if (!damaged && r == ReceiveResult::kApplied) CHECK(*receiver.latest() == frames.back());
  }
  const ReceiverCounters& c = receiver.counters();
  CHECK(c.received == 398);
  CHECK(c.dropped_checksum + c.dropped_corrupt == rejected);
  CHECK(rejected > 50);
  CHECK(c.applied > 100);
  CHECK(c.applied + c.dropped_old + c.dropped_no_baseline + c.dropped_checksum + c.dropped_corrupt == c.received);
}
