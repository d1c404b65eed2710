// apply(encode(base, next), base) == next, bit-exact, over seeded random worlds, random subsets,
// every entity type (including 32-bit and 1-bit fields at their extremes) and events.
#include <doctest/doctest.h>

#include <vector>

#include "snapshot/world.hpp"
#include "support/seed.hpp"
#include "volley/snapshot/checksum.hpp"
#include "volley/snapshot/codec.hpp"
#include "volley/snapshot/dictionary.hpp"

using namespace volley::snapshot;
using volley::test::evolve;
using volley::test::random_events;
using volley::test::random_frame;
using volley::test::subset;

namespace {

struct Codec {
  Schema schema = volley::test::test_schema();
  Encoder encoder{schema, CodecConfig{}};
  Decoder decoder{schema, CodecConfig{}};
  std::vector<std::uint8_t> packet = std::vector<std::uint8_t>(64 * 1024);

  std::size_t round_trip(const Frame* base, const Frame& next, const std::vector<Event>& events) {
    const std::size_t n = encoder.encode(base, next, events, packet);
    REQUIRE(n > 0);
    Frame out;
    std::vector<Event> got;
    const DecodeError e = decoder.decode({packet.data(), n}, base, out, got);
    REQUIRE(decode_error_name(e) == decode_error_name(DecodeError::kOk));
    CHECK(out == next);
    CHECK(got == events);
    return n;
  }
};

}  // namespace

TEST_CASE("full snapshots round trip: empty, one entity, random worlds") {
  Codec c;
  VOLLEY_SEEDED_RNG(rng, 10);
  Frame empty;
  empty.number = 7;
  c.round_trip(nullptr, empty, {});
  for (int i = 0; i < 40; ++i) {
    const Frame f = random_frame(rng, c.schema, 1 + rng() % 300, static_cast<std::uint32_t>(rng()));
    c.round_trip(nullptr, f, random_events(rng, rng(), rng() % 4));
  }
}

TEST_CASE("delta round trip over random evolving worlds, including against an empty baseline") {
  Codec c;
  VOLLEY_SEEDED_RNG(rng, 11);
  for (int world = 0; world < 10; ++world) {
    std::vector<Frame> history{random_frame(rng, c.schema, 50 + rng() % 400, 1)};
    for (std::uint32_t n = 2; n < 30; ++n)
      history.push_back(evolve(rng, c.schema, history.back(), 0.3, n));
    for (std::size_t i = 1; i < history.size(); ++i) {
      const std::size_t back = 1 + rng() % std::min<std::size_t>(i, 8);
      c.round_trip(&history[i - back], history[i], random_events(rng, 1000 + i, rng() % 3));
    }
    Frame none;
    c.round_trip(&none, history.back(), {});       // everything created
    c.round_trip(&history.back(), none, {});       // everything removed
    c.round_trip(&history.back(), history.back(), {});  // nothing changed
  }
}

TEST_CASE("subsets of the world: what one client sees, against what it saw") {
  Codec c;
  VOLLEY_SEEDED_RNG(rng, 12);
  for (int round = 0; round < 60; ++round) {
    const Frame world0 = random_frame(rng, c.schema, 100 + rng() % 400, 10);
    const Frame world1 = evolve(rng, c.schema, world0, 0.5, 16);
    const Frame seen0 = subset(rng, world0, 0.2 + 0.8 * static_cast<double>(rng() % 100) / 100);
    const Frame seen1 = subset(rng, world1, 0.2 + 0.8 * static_cast<double>(rng() % 100) / 100);
    c.round_trip(&seen0, seen1, {});
  }
}

TEST_CASE("unchanged entities cost close to nothing, changed ones only their changed fields") {
  Codec c;
  VOLLEY_SEEDED_RNG(rng, 13);
  const Frame small = random_frame(rng, c.schema, 10, 1);
  const Frame base = random_frame(rng, c.schema, 900, 1);
  const auto unchanged = [&](const Frame& f) {
    Frame same = f;
    same.number = 2;
    return c.round_trip(&f, same, {});
  };
  const std::size_t unchanged_10 = unchanged(small), unchanged_900 = unchanged(base);
  CHECK(unchanged_900 <= unchanged_10 + 2);  // no per-entity cost
  // One field of one entity changed by one step: the FlatBuffer columns it needs, a gap, a mask
  // and one residual; nothing for the other 899.
  Frame one;
  one.number = 3;
  for (std::size_t i = 0; i < base.size(); ++i) {
    std::vector<std::int32_t> v(base.values(i).begin(), base.values(i).end());
    if (i == 450) v[0] ^= 1;
    one.add(base.id(i), base.type(i), v);
  }
  const std::size_t one_change = c.round_trip(&base, one, {});
  const std::size_t full = c.round_trip(nullptr, base, {});
  CHECK(one_change <= unchanged_900 + 32);
  MESSAGE("900 entities: full ", full, " B, unchanged ", unchanged_900, " B (10 entities: ",
          unchanged_10, " B), one field changed ", one_change, " B");
}

TEST_CASE("events of every size and id round trip, alone and with state") {
  Codec c;
  VOLLEY_SEEDED_RNG(rng, 14);
  Frame f;
  f.number = 1;
  std::vector<Event> events;
  for (std::size_t size : {0u, 1u, 17u, 255u}) events.push_back({~std::uint64_t{0} - size, 0xFFFF, std::vector<std::uint8_t>(size, 0xAB)});
  events.push_back({0, 0, {}});
  c.round_trip(nullptr, f, events);
  c.round_trip(nullptr, random_frame(rng, c.schema, 20, 2), random_events(rng, 1ull << 40, 256));
}

TEST_CASE("the encoder rejects what breaks the rules instead of sending it") {
  Codec c;
  std::vector<std::uint8_t> out(4096);
  Frame f;
  const std::int32_t v1[1] = {8};  // type 2 is 3 bits unsigned: 8 does not fit
  f.add(1, 2, v1);
  CHECK(c.encoder.encode(nullptr, f, {}, out) == 0);
  Frame g;
  const std::int32_t ok[1] = {7};
  g.add(5, 2, ok);
  g.add(5, 2, ok);  // ids not increasing
  CHECK(c.encoder.encode(nullptr, g, {}, out) == 0);
  Frame h;
  h.add(1, 9, ok);  // unknown type
  CHECK(c.encoder.encode(nullptr, h, {}, out) == 0);
  Frame k;
  k.add(1, 2, ok);
  const std::vector<Event> big{{1, 1, std::vector<std::uint8_t>(kMaxEventPayload + 1)}};
  CHECK(c.encoder.encode(nullptr, k, big, out) == 0);
  std::vector<std::uint8_t> tiny(kHeaderBytes + 2);
  CHECK(c.encoder.encode(nullptr, k, {}, tiny) == 0);
  CHECK(c.encoder.encode(nullptr, k, {}, out) > 0);
  // One past the last type, with no values (so the field-count check cannot refuse it instead).
  Frame past_last_type;
  past_last_type.add(1, static_cast<std::uint16_t>(c.schema.type_count()), {});
  CHECK(c.encoder.encode(nullptr, past_last_type, {}, out) == 0);
}

TEST_CASE("the encoder takes exactly max_entities entities and refuses one more") {
  const Schema schema = volley::test::test_schema();
  CodecConfig config;
  config.max_entities = 4;
  Encoder encoder(schema, config);
  std::vector<std::uint8_t> out(4096);
  const std::int32_t ok[1] = {7};
  Frame f;
  for (std::uint32_t id = 1; id <= 4; ++id) f.add(id, 2, ok);
  CHECK(encoder.encode(nullptr, f, {}, out) > 0);
  f.add(5, 2, ok);
  CHECK(encoder.encode(nullptr, f, {}, out) == 0);
}

TEST_CASE("zstd levels and a trained dictionary round trip, mismatched ends are told apart") {
  VOLLEY_SEEDED_RNG(rng, 15);
  const Schema schema = volley::test::test_schema();
  std::vector<Frame> frames{random_frame(rng, schema, 300, 1)};
  for (std::uint32_t n = 2; n < 200; ++n) frames.push_back(evolve(rng, schema, frames.back(), 0.2, n));
  Encoder plain(schema, CodecConfig{});
  std::vector<std::vector<std::uint8_t>> samples;
  std::vector<std::uint8_t> out(64 * 1024);
  for (std::size_t i = 3; i < frames.size(); ++i) {
    const std::size_t n = plain.encode(&frames[i - 3], frames[i], {}, out);
    REQUIRE(n > 0);
    samples.emplace_back(out.begin(), out.begin() + static_cast<std::ptrdiff_t>(n));
  }
  const std::vector<std::uint8_t> dict = train_dictionary(samples, 4096);
  REQUIRE(!dict.empty());
  for (int level : {1, 3, 19}) {
    CodecConfig config;
    config.zstd_level = level;
    config.dictionary = dict;
    Encoder enc(schema, config);
    Decoder dec(schema, config);
    Decoder no_dict(schema, CodecConfig{});
    for (std::size_t i = 3; i < 20; ++i) {
      const std::size_t n = enc.encode(&frames[i - 3], frames[i], {}, out);
      REQUIRE(n > 0);
      Frame got;
      std::vector<Event> events;
      CHECK(dec.decode({out.data(), n}, &frames[i - 3], got, events) == DecodeError::kOk);
      CHECK(got == frames[i]);
      CHECK(no_dict.decode({out.data(), n}, &frames[i - 3], got, events) ==
            DecodeError::kDictionaryMismatch);
    }
  }
}

TEST_CASE("peek reads the header alone") {
  Codec c;
  VOLLEY_SEEDED_RNG(rng, 16);
  const Frame a = random_frame(rng, c.schema, 10, 41);
  Frame b = evolve(rng, c.schema, a, 0.5, 44);
  const std::size_t n = c.encoder.encode(&a, b, {}, c.packet);
  const auto h = Decoder::peek({c.packet.data(), n});
  REQUIRE(h);
  CHECK(h->frame == 44);
  CHECK(h->baseline == 41);
  CHECK(h->delta());
  CHECK(h->checksum == state_checksum(b, {}));
  CHECK_FALSE(Decoder::peek({c.packet.data(), kHeaderBytes - 1}));
}

TEST_CASE("a field that follows another baseline field is predicted: exact, and much smaller") {
  VOLLEY_SEEDED_RNG(rng, 17);
  Schema schema;
  const FieldWidth fields[3] = {-16, -12, 4};  // position, velocity, something else
  REQUIRE(schema.add_type(fields) == std::uint16_t{0});
  Encoder encoder(schema, CodecConfig{});
  Decoder decoder(schema, CodecConfig{});
  std::vector<std::uint8_t> packet(64 * 1024);
  const auto size_for = [&](bool correlated) {
    Frame base, next;
    base.number = 1;
    next.number = 4;
    for (std::uint32_t id = 0; id < 300; ++id) {
      const auto vel = static_cast<std::int32_t>(rng() % 2001) - 1000;
      const auto pos = static_cast<std::int32_t>(rng() % 40001) - 20000;
      const auto other = static_cast<std::int32_t>(rng() % 16);
      const std::int32_t b[3] = {pos, vel, other};
      const auto moved = correlated ? pos + vel * 3 / 2 + static_cast<std::int32_t>(rng() % 3) - 1
                                    : pos + static_cast<std::int32_t>(rng() % 3001) - 1500;
      const std::int32_t n[3] = {moved, vel, other};
      base.add(id, 0, b);
      next.add(id, 0, n);
    }
    const std::size_t n = encoder.encode(&base, next, {}, packet);
    REQUIRE(n > 0);
    Frame out;
    std::vector<Event> events;
    REQUIRE(decoder.decode({packet.data(), n}, &base, out, events) == DecodeError::kOk);
    CHECK(out == next);
    return n;
  };
  const std::size_t predicted = size_for(true), unpredictable = size_for(false);
  MESSAGE("300 moving entities: position = f(baseline velocity) ", predicted,
          " B; uncorrelated moves of the same size ", unpredictable, " B");
  CHECK(predicted * 3 < unpredictable);
}
