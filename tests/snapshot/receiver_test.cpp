// The Receiver: newest frame wins, late and duplicate frames are ignored, unknown baselines and
// checksum failures are dropped and counted, and every event is delivered exactly once however
// many frames carry it and in whatever order they arrive.
#include <doctest/doctest.h>

#include <algorithm>
#include <map>
#include <set>
#include <vector>

#include "snapshot/world.hpp"
#include "support/seed.hpp"
#include "volley/snapshot/codec.hpp"
#include "volley/snapshot/receiver.hpp"

using namespace volley::snapshot;

namespace {

struct Server {
  Schema schema = volley::test::test_schema();
  Encoder encoder{schema, CodecConfig{}};
  std::vector<Frame> frames;  // frames[n] has number n
  std::vector<std::uint8_t> buffer = std::vector<std::uint8_t>(64 * 1024);

  explicit Server(std::mt19937_64& rng, std::uint32_t count) {
    frames.push_back(volley::test::random_frame(rng, schema, 60, 0));
    for (std::uint32_t n = 1; n < count; ++n)
      frames.push_back(volley::test::evolve(rng, schema, frames.back(), 0.3, n));
  }
  std::vector<std::uint8_t> packet(std::uint32_t n, const Frame* base,
                                   const std::vector<Event>& events = {}) {
    const std::size_t size = encoder.encode(base, frames[n], events, buffer);
    REQUIRE(size > 0);
    return {buffer.begin(), buffer.begin() + static_cast<std::ptrdiff_t>(size)};
  }
};

}  // namespace

TEST_CASE("newest applied wins: older and duplicate frames are ignored, ack follows the newest") {
  VOLLEY_SEEDED_RNG(rng, 40);
  Server s(rng, 10);
  Receiver r(s.schema, CodecConfig{});
  std::vector<Event> events;
  CHECK_FALSE(r.ack());
  CHECK(r.latest() == nullptr);
  CHECK(r.receive(s.packet(3, nullptr), events) == ReceiveResult::kApplied);
  CHECK(r.ack() == 3u);
  CHECK(r.receive(s.packet(5, &s.frames[3]), events) == ReceiveResult::kApplied);
  CHECK(r.receive(s.packet(4, &s.frames[3]), events) == ReceiveResult::kOld);  // late
  CHECK(r.receive(s.packet(5, &s.frames[3]), events) == ReceiveResult::kOld);  // duplicate
  CHECK(r.ack() == 5u);
  CHECK(*r.latest() == s.frames[5]);
  CHECK(r.frame(3) != nullptr);
  CHECK(r.frame(4) == nullptr);
  CHECK(r.counters().dropped_old == 2);
  CHECK(r.counters().applied == 2);
}

TEST_CASE("unknown baseline dropped and counted, a full snapshot recovers") {
  VOLLEY_SEEDED_RNG(rng, 41);
  Server s(rng, 50);
  ReceiverConfig config;
  config.history = 4;
  Receiver r(s.schema, CodecConfig{}, config);
  std::vector<Event> events;
  CHECK(r.receive(s.packet(2, &s.frames[1]), events) == ReceiveResult::kNoBaseline);
  CHECK(r.receive(s.packet(10, nullptr), events) == ReceiveResult::kApplied);
  for (std::uint32_t n = 11; n < 16; ++n)
    CHECK(r.receive(s.packet(n, &s.frames[n - 1]), events) == ReceiveResult::kApplied);
  // Frame 10 has left the 4-frame ring.
  CHECK(r.receive(s.packet(20, &s.frames[10]), events) == ReceiveResult::kNoBaseline);
  CHECK(r.receive(s.packet(21, &s.frames[12]), events) == ReceiveResult::kApplied);
  CHECK(r.counters().dropped_no_baseline == 2);
  CHECK(r.counters().decode_errors[static_cast<std::size_t>(DecodeError::kBaselineMismatch)] == 2);
  CHECK(*r.latest() == s.frames[21]);
}

TEST_CASE("checksum failures are dropped and counted, the ring is left untouched") {
  VOLLEY_SEEDED_RNG(rng, 42);
  Server s(rng, 10);
  Receiver r(s.schema, CodecConfig{});
  std::vector<Event> events;
  CHECK(r.receive(s.packet(1, nullptr), events) == ReceiveResult::kApplied);
  auto p = s.packet(2, &s.frames[1]);
  p[13] ^= 0x40;
  DecodeError error = DecodeError::kOk;
  CHECK(r.receive(p, events, &error) == ReceiveResult::kBadChecksum);
  CHECK(error == DecodeError::kBadChecksum);
  CHECK(r.counters().dropped_checksum == 1);
  CHECK(r.ack() == 1u);
  std::vector<std::uint8_t> junk(40, 0x55);
  CHECK(r.receive(junk, events, &error) == ReceiveResult::kCorrupt);
  CHECK(error == DecodeError::kBadMagic);
  CHECK(r.counters().dropped_corrupt == 1);
  CHECK(r.receive(s.packet(3, &s.frames[1]), events) == ReceiveResult::kApplied);
}

TEST_CASE("events riding in many frames, arriving in any order, are delivered exactly once") {
  for (std::uint64_t round = 0; round < 20; ++round) {
    VOLLEY_SEEDED_RNG(rng, 43 + round);
    Server s(rng, 120);
    // Event i is raised at frame 2i and rides in frames 2i .. 2i + 9 (until "acknowledged").
    std::vector<Event> all = volley::test::random_events(rng, 1'000'000 + round * 1000, 55);
    std::vector<std::vector<std::uint8_t>> packets;
    for (std::uint32_t n = 1; n < 120; ++n) {
      std::vector<Event> riding;
      for (std::size_t i = 0; i < all.size(); ++i)
        if (2 * i <= n && n < 2 * i + 10) riding.push_back(all[i]);
      // Against a frame 1..6 back, or full: which one the receiver holds decides.
      const Frame* base = n > 6 && rng() % 5 != 0 ? &s.frames[n - 1 - rng() % 6] : nullptr;
      packets.push_back(s.packet(n, base, riding));
      if (rng() % 4 == 0) packets.push_back(packets.back());  // duplicated on the wire
    }
    // Reorder: shuffle within windows of 8 so most frames still apply.
    for (std::size_t i = 0; i + 8 <= packets.size(); i += 8)
      std::shuffle(packets.begin() + static_cast<std::ptrdiff_t>(i),
                   packets.begin() + static_cast<std::ptrdiff_t>(i + 8), rng);
    Receiver r(s.schema, CodecConfig{});
    std::vector<Event> delivered;
    std::set<std::uint32_t> applied;
    for (const auto& p : packets) {
      const std::size_t before = delivered.size();
      const ReceiveResult result = r.receive(p, delivered);
      if (result == ReceiveResult::kApplied) applied.insert(Decoder::peek(p)->frame);
      else CHECK(delivered.size() == before);
    }
    std::map<std::uint64_t, int> count;
    for (const Event& e : delivered) ++count[e.id];
    for (const auto& [id, n] : count) CHECK(n == 1);
    // An event is delivered iff one of the frames it rode in was applied, with its contents.
    for (std::size_t i = 0; i < all.size(); ++i) {
      bool rode_in_applied = false;
      for (std::uint32_t n = 1; n < 120; ++n)
        rode_in_applied = rode_in_applied || (2 * i <= n && n < 2 * i + 10 && applied.count(n) > 0);
      INFO("event ", i);
      CHECK(count[all[i].id] == (rode_in_applied ? 1 : 0));
      const auto it = std::find_if(delivered.begin(), delivered.end(),
                                   [&](const Event& e) { return e.id == all[i].id; });
      if (it != delivered.end()) CHECK(*it == all[i]);
    }
    CHECK(delivered.size() > all.size() / 2);  // the scenario delivers most events
    CHECK(r.counters().events_delivered == delivered.size());
    CHECK(r.counters().events_duplicate > 0);
  }
}

TEST_CASE("event id memory is bounded: ids far behind the newest are treated as delivered") {
  VOLLEY_SEEDED_RNG(rng, 44);
  Server s(rng, 6);
  ReceiverConfig config;
  config.event_window = 64;
  Receiver r(s.schema, CodecConfig{}, config);
  std::vector<Event> delivered;
  r.receive(s.packet(1, nullptr, {{1000, 1, {}}}), delivered);
  r.receive(s.packet(2, nullptr, {{1000, 1, {}}, {900, 2, {}}}), delivered);  // 100 behind: too old
  r.receive(s.packet(3, nullptr, {{990, 3, {}}, {1000, 1, {}}}), delivered);  // inside the window
  r.receive(s.packet(4, nullptr, {{990, 3, {}}, {1001, 4, {}}}), delivered);
  std::vector<std::uint64_t> ids;
  for (const Event& e : delivered) ids.push_back(e.id);
  CHECK(ids == std::vector<std::uint64_t>{1000, 990, 1001});
  CHECK(r.counters().events_too_old == 1);
  CHECK(r.counters().events_duplicate == 3);
  // The window's edge: 64 behind the newest (1001) is too old; 63 behind is still remembered.
  r.receive(s.packet(5, nullptr, {{937, 5, {}}, {938, 6, {}}}), delivered);
  CHECK(delivered.back().id == 938);
  CHECK(r.counters().events_too_old == 2);
  CHECK(r.counters().events_duplicate == 3);
}

TEST_CASE("event ids up to 2^64 - 1 are taken once, and the id after the newest does not wrap the window") {
  // A hostile server's event id 2^64 - 1, newest being just below it: the window update looped
  // forever (its counter wrapped past the id) and hung the client.
  VOLLEY_SEEDED_RNG(rng, 45);
  Server s(rng, 4);
  Receiver r(s.schema, CodecConfig{}, ReceiverConfig{});
  constexpr std::uint64_t kTop = ~std::uint64_t{0};
  std::vector<Event> delivered;
  r.receive(s.packet(1, nullptr, {{kTop - 1, 1, {}}}), delivered);
  r.receive(s.packet(2, nullptr, {{kTop - 1, 1, {}}, {kTop, 2, {}}}), delivered);
  r.receive(s.packet(3, nullptr, {{kTop, 2, {}}}), delivered);
  std::vector<std::uint64_t> ids;
  for (const Event& e : delivered) ids.push_back(e.id);
  CHECK(ids == std::vector<std::uint64_t>{kTop - 1, kTop});
  CHECK(r.counters().events_duplicate == 2);
}

namespace {

// A frame of `entities` one-bit entities (ids 1..n): small on the wire however many there are.
Frame tiny_frame(std::uint32_t number, std::size_t entities) {
  Frame frame;
  frame.number = number;
  const std::int32_t zero[] = {0};
  for (std::size_t i = 1; i <= entities; ++i) frame.add(static_cast<std::uint32_t>(i), 0, zero);
  return frame;
}

std::vector<std::uint8_t> encode_full(const Schema& schema, const Frame& frame,
                                      const std::vector<Event>& events = {}) {
  Encoder encoder(schema, CodecConfig{});
  std::vector<std::uint8_t> buffer(64 * 1024);
  const std::size_t size = encoder.encode(nullptr, frame, events, buffer);
  REQUIRE(size > 0);
  buffer.resize(size);
  return buffer;
}

}  // namespace

TEST_CASE("entities per frame are capped by the receiver: a frame over max_entities is dropped and counted") {
  Schema schema;
  const FieldWidth bit[] = {1};
  REQUIRE(schema.add_type(bit) == 0u);
  std::vector<Event> events;
  // The default: 8,192 (the codec's own 65,536 let a server make a client hold 33 such frames).
  CHECK(ReceiverConfig{}.max_entities == 8192);
  Receiver defaults(schema, CodecConfig{});
  CHECK(defaults.receive(encode_full(schema, tiny_frame(1, 8193)), events) == ReceiveResult::kCorrupt);
  CHECK(defaults.counters().dropped_corrupt == 1);
  CHECK(defaults.counters().decode_errors[static_cast<std::size_t>(DecodeError::kTooManyEntities)] == 1);
  CHECK(defaults.counters().decode_errors[static_cast<std::size_t>(DecodeError::kEntityOutOfRange)] == 0);
  CHECK(defaults.latest() == nullptr);
  CHECK(defaults.receive(encode_full(schema, tiny_frame(2, 8192)), events) == ReceiveResult::kApplied);
  REQUIRE(defaults.latest() != nullptr);
  CHECK(defaults.latest()->size() == 8192);

  // A lower cap than the codec's wins; so does a lower codec limit than the receiver's.
  Receiver capped(schema, CodecConfig{}, ReceiverConfig{.max_entities = 50});
  CHECK(capped.receive(encode_full(schema, tiny_frame(1, 51)), events) == ReceiveResult::kCorrupt);
  CHECK(capped.receive(encode_full(schema, tiny_frame(2, 50)), events) == ReceiveResult::kApplied);
  CodecConfig codec40;
  codec40.max_entities = 40;
  Receiver codec_lower(schema, codec40, ReceiverConfig{.max_entities = 50});
  CHECK(codec_lower.receive(encode_full(schema, tiny_frame(1, 41)), events) == ReceiveResult::kCorrupt);
  // 0: the codec's limit alone.
  Receiver uncapped(schema, CodecConfig{}, ReceiverConfig{.max_entities = 0});
  CHECK(uncapped.receive(encode_full(schema, tiny_frame(1, 9000)), events) == ReceiveResult::kApplied);
}

TEST_CASE("events are appended only while the caller holds fewer than max_queued_events, the rest counted") {
  Schema schema;
  const FieldWidth bit[] = {1};
  REQUIRE(schema.add_type(bit) == 0u);
  CHECK(ReceiverConfig{}.max_queued_events == 4096);
  Receiver receiver(schema, CodecConfig{}, ReceiverConfig{.max_queued_events = 5});
  std::vector<Event> events8;
  for (std::uint64_t id = 1; id <= 8; ++id) events8.push_back({id, 1, {}});
  std::vector<Event> queue;
  REQUIRE(receiver.receive(encode_full(schema, tiny_frame(1, 3), events8), queue) == ReceiveResult::kApplied);
  REQUIRE(queue.size() == 5);
  CHECK(queue.front().id == 1);
  CHECK(queue.back().id == 5);
  CHECK(receiver.counters().events_dropped_full == 3);
  CHECK(receiver.counters().events_delivered == 5);
  // Still full: a newer frame's new events are all dropped; once taken, new ones come again.
  std::vector<Event> more = {{9, 1, {}}, {10, 1, {}}};
  REQUIRE(receiver.receive(encode_full(schema, tiny_frame(2, 3), more), queue) == ReceiveResult::kApplied);
  CHECK(queue.size() == 5);
  CHECK(receiver.counters().events_dropped_full == 5);
  queue.clear();
  more = {{11, 1, {}}};
  REQUIRE(receiver.receive(encode_full(schema, tiny_frame(3, 3), more), queue) == ReceiveResult::kApplied);
  REQUIRE(queue.size() == 1);
  CHECK(queue.front().id == 11);
}
