// The snapshot bench's replay file (VSRP v1) reader and writer, and the scene generators that
// feed it: round trips, one test per malformed class, and the generators' promises.
#include <doctest/doctest.h>

#include <algorithm>
#include <cstring>
#include <set>
#include <string>
#include <vector>

#include "cube_scene.hpp"
#include "demo_world.hpp"
#include "replay.hpp"
#include "support/seed.hpp"

namespace {

using volley::bench::CubeScene;
using volley::bench::CubeSceneConfig;
using volley::bench::DemoScene;
using volley::bench::DemoSceneConfig;
using volley::bench::FieldWidth;
using volley::bench::parse_replay;
using volley::bench::RecordedFrame;
using volley::bench::Replay;
using volley::bench::serialize_replay;

using Bytes = std::vector<std::uint8_t>;

void put_u32(Bytes& out, std::uint32_t v) {
  for (int i = 0; i < 4; ++i) out.push_back(static_cast<std::uint8_t>(v >> (8 * i)));
}

Bytes header(std::uint32_t version, std::vector<FieldWidth> fields) {
  Bytes out = {'V', 'S', 'R', 'P'};
  put_u32(out, version);
  put_u32(out, static_cast<std::uint32_t>(fields.size()));
  for (FieldWidth f : fields) out.push_back(static_cast<std::uint8_t>(f));
  return out;
}

void frame(Bytes& out, std::uint32_t number, std::vector<std::pair<std::uint32_t, std::vector<std::int32_t>>> entities) {
  put_u32(out, number);
  put_u32(out, static_cast<std::uint32_t>(entities.size()));
  for (const auto& [id, values] : entities) {
    put_u32(out, id);
    for (std::int32_t v : values) put_u32(out, static_cast<std::uint32_t>(v));
  }
}

// The error of a file that must be rejected; fails the test if it was accepted.
std::string rejected(const Bytes& bytes) {
  const auto result = parse_replay(bytes);
  CHECK_FALSE(result.replay.has_value());
  CHECK(result.error.find('\n') == std::string::npos);
  CHECK(result.error.starts_with("replay: "));
  return result.error;
}

Replay small_replay() {
  Replay replay;
  replay.fields = {2, 9, -15, 32, -32, 1};
  RecordedFrame a;
  a.number = 10;
  a.ids = {1, 5, 9};
  a.values = {3, 511, -16384, -1, INT32_MIN, 1,  //
              0, 0, 16383, 0, INT32_MAX, 0,     //
              2, 17, 0, 123456, -7, 1};
  RecordedFrame b;
  b.number = 11;  // no entities at all
  RecordedFrame c;
  c.number = 4000000000u;
  c.ids = {0xFFFFFFFFu};
  c.values = {1, 2, 3, 4, 5, 0};
  replay.frames = {a, b, c};
  return replay;
}

}  // namespace

TEST_CASE("replay: a written replay reads back identical, byte for byte as specified") {
  const Replay replay = small_replay();
  std::string error;
  const Bytes bytes = serialize_replay(replay, error);
  REQUIRE(error.empty());
  // Header layout: magic, version 1, field count, the widths as signed bytes.
  REQUIRE(bytes.size() == 12 + 6 + (8 + 3 * 28) + 8 + (8 + 28));
  CHECK(std::memcmp(bytes.data(), "VSRP\x01\x00\x00\x00\x06\x00\x00\x00", 12) == 0);
  CHECK(bytes[12] == 2);
  CHECK(bytes[14] == static_cast<std::uint8_t>(-15));
  CHECK(bytes[18] == 10);  // first frame number, little-endian
  const auto result = parse_replay(bytes);
  REQUIRE_MESSAGE(result.replay.has_value(), result.error);
  CHECK(result.replay->fields == replay.fields);
  CHECK(result.replay->frames == replay.frames);
}

TEST_CASE("replay: a header without frames is a valid, empty replay") {
  const auto result = parse_replay(header(1, {8}));
  REQUIRE(result.replay.has_value());
  CHECK(result.replay->frames.empty());
}

TEST_CASE("replay: each malformed class is rejected with a one-line error") {
  SUBCASE("truncated header") {
    CHECK(rejected(Bytes{'V', 'S', 'R', 'P', 1, 0}).find("truncated header") != std::string::npos);
    CHECK(rejected(Bytes{}).find("truncated header") != std::string::npos);
  }
  SUBCASE("bad magic") {
    Bytes bytes = header(1, {8});
    bytes[3] = 'Q';
    CHECK(rejected(bytes).find("bad magic") != std::string::npos);
  }
  SUBCASE("bad version") {
    CHECK(rejected(header(2, {8})).find("unsupported version 2") != std::string::npos);
    CHECK(rejected(header(0, {8})).find("unsupported version 0") != std::string::npos);
  }
  SUBCASE("field count out of range") {
    CHECK(rejected(header(1, {})).find("field count 0") != std::string::npos);
    CHECK(rejected(header(1, std::vector<FieldWidth>(65, 8))).find("field count 65") != std::string::npos);
    Bytes huge = header(1, {8});
    huge[8] = huge[9] = huge[10] = huge[11] = 0xFF;
    CHECK(rejected(huge).find("field count 4294967295") != std::string::npos);
  }
  SUBCASE("truncated field list") {
    Bytes bytes = header(1, {8, 8, 8});
    bytes.pop_back();
    CHECK(rejected(bytes).find("truncated field list") != std::string::npos);
  }
  SUBCASE("field width out of range") {
    CHECK(rejected(header(1, {8, 0})).find("field 1 width 0") != std::string::npos);
    CHECK(rejected(header(1, {33})).find("width 33") != std::string::npos);
    CHECK(rejected(header(1, {-33})).find("width -33") != std::string::npos);
    CHECK(rejected(header(1, {-128})).find("width -128") != std::string::npos);
  }
  SUBCASE("truncated frame header") {
    Bytes bytes = header(1, {8});
    frame(bytes, 1, {{1, {5}}});
    put_u32(bytes, 2);  // a frame number without its entity count
    CHECK(rejected(bytes).find("frame 1 at offset 29: truncated frame header") != std::string::npos);
    bytes.pop_back();
    CHECK(rejected(bytes).find("truncated frame header") != std::string::npos);
  }
  SUBCASE("truncated entity list") {
    Bytes bytes = header(1, {8, 8});
    frame(bytes, 1, {{1, {5, 6}}, {2, {7, 8}}});
    bytes.resize(bytes.size() - 1);
    CHECK(rejected(bytes).find("entity count 2 needs 24 bytes, 23 left") != std::string::npos);
  }
  SUBCASE("absurd entity count is refused before anything is allocated") {
    Bytes bytes = header(1, {8});
    put_u32(bytes, 1);
    put_u32(bytes, 0xFFFFFFFFu);
    put_u32(bytes, 1);
    put_u32(bytes, 1);
    CHECK(rejected(bytes).find("entity count 4294967295") != std::string::npos);
  }
  SUBCASE("value outside its field") {
    Bytes unsigned_over = header(1, {9});
    frame(unsigned_over, 1, {{1, {512}}});
    CHECK(rejected(unsigned_over).find("value 512 outside unsigned 9 bits") != std::string::npos);
    Bytes unsigned_negative = header(1, {9});
    frame(unsigned_negative, 1, {{1, {-1}}});
    CHECK(rejected(unsigned_negative).find("outside unsigned 9 bits") != std::string::npos);
    Bytes signed_low = header(1, {1, -15});
    frame(signed_low, 1, {{1, {0, -16384}}, {2, {1, -16385}}});
    CHECK(rejected(signed_low).find("entity id 2 field 1 value -16385 outside signed 15 bits") != std::string::npos);
    Bytes signed_high = header(1, {-15});
    frame(signed_high, 1, {{1, {16384}}});
    CHECK(rejected(signed_high).find("value 16384 outside signed 15 bits") != std::string::npos);
  }
  SUBCASE("entity ids not increasing") {
    Bytes equal = header(1, {8});
    frame(equal, 1, {{4, {0}}, {4, {0}}});
    CHECK(rejected(equal).find("id 4 not greater than the previous id 4") != std::string::npos);
    Bytes down = header(1, {8});
    frame(down, 1, {{4, {0}}, {3, {0}}});
    CHECK(rejected(down).find("id 3 not greater") != std::string::npos);
  }
  SUBCASE("frame numbers not increasing") {
    Bytes bytes = header(1, {8});
    frame(bytes, 7, {});
    frame(bytes, 7, {});
    CHECK(rejected(bytes).find("frame number 7 not greater than the previous 7") != std::string::npos);
  }
}

TEST_CASE("replay: the writer refuses what the reader would reject") {
  std::string error;
  Replay bad_width = small_replay();
  bad_width.fields[0] = 0;
  CHECK(serialize_replay(bad_width, error).empty());
  CHECK(error.find("width 0") != std::string::npos);

  Replay bad_value = small_replay();
  bad_value.frames[0].values[1] = 512;  // unsigned 9 bits
  CHECK(serialize_replay(bad_value, error).empty());
  CHECK(error.find("value 512 outside unsigned 9 bits") != std::string::npos);

  Replay bad_ids = small_replay();
  bad_ids.frames[0].ids[1] = 1;
  CHECK(serialize_replay(bad_ids, error).empty());
  CHECK(error.find("not greater than the previous id") != std::string::npos);

  Replay bad_count = small_replay();
  bad_count.frames[0].values.pop_back();
  CHECK(serialize_replay(bad_count, error).empty());
  CHECK(error.find("17 values for 3 entities of 6 fields") != std::string::npos);

  Replay bad_order = small_replay();
  bad_order.frames[1].number = 10;
  CHECK(serialize_replay(bad_order, error).empty());
  CHECK(error.find("frame number not greater") != std::string::npos);

  CHECK_FALSE(volley::bench::write_replay("/nonexistent-dir/x.vsrp", small_replay(), error));
  CHECK(error.find("cannot write") != std::string::npos);
}

TEST_CASE("replay: every truncation and random byte flips give a clean answer, never a crash") {
  VOLLEY_SEEDED_RNG(rng, 1);
  std::string error;
  const Bytes good = serialize_replay(volley::bench::record_demo_scene({.seed = 3, .entities = 12}, 5), error);
  REQUIRE(error.empty());
  for (std::size_t n = 0; n < good.size(); ++n) {
    const Bytes cut(good.begin(), good.begin() + static_cast<std::ptrdiff_t>(n));
    const auto result = parse_replay(cut);
    // A cut exactly between frames is a valid shorter replay; anywhere else it is an error.
    if (result.replay) {
      CHECK(volley::bench::validate_replay(*result.replay).empty());
    } else {
      CHECK(result.error.find('\n') == std::string::npos);
    }
  }
  for (int round = 0; round < 2000; ++round) {
    Bytes mutated = good;
    const int flips = 1 + static_cast<int>(rng() % 4);
    for (int f = 0; f < flips; ++f) mutated[rng() % mutated.size()] ^= static_cast<std::uint8_t>(1u << (rng() % 8));
    const auto result = parse_replay(mutated);
    if (result.replay) CHECK(volley::bench::validate_replay(*result.replay).empty());
  }
}

TEST_CASE("demo scene: no entities (volley-server --mode demo --entities 0) steps and records nothing") {
  DemoScene scene({.seed = 42, .entities = 0, .hz = 30});
  RecordedFrame frame;
  // 30 s at 30 Hz: 1.5 respawns a second would have picked one from the empty scene ~45 times.
  for (int tick = 0; tick < 900; ++tick) {
    scene.step();
    scene.record(frame);
    CHECK(frame.size() == 0);
  }
  CHECK(scene.frame_number() == 901);
}

TEST_CASE("demo scene: deterministic, a quarter moving, a few respawning, values within their fields") {
  const DemoSceneConfig config{.seed = 42, .entities = 256, .hz = 30};
  const Replay a = volley::bench::record_demo_scene(config, 300);
  CHECK(a == volley::bench::record_demo_scene(config, 300));
  CHECK_FALSE(a.frames == volley::bench::record_demo_scene({.seed = 43}, 300).frames);
  CHECK(volley::bench::validate_replay(a).empty());
  CHECK(a.fields.size() == DemoScene::kFieldCount);

  DemoScene scene(config);
  std::set<std::uint32_t> first_ids;
  RecordedFrame frame;
  scene.record(frame);
  first_ids.insert(frame.ids.begin(), frame.ids.end());
  std::size_t new_ids = 0;
  for (int tick = 0; tick < 300; ++tick) {
    CHECK(scene.moving_count() == 64);
    scene.step();
    scene.record(frame);
    CHECK(frame.size() == 256);
    CHECK(frame.number == static_cast<std::uint32_t>(tick + 2));
  }
  for (std::uint32_t id : frame.ids) new_ids += first_ids.count(id) == 0 ? 1 : 0;
  // 1.5 respawns a second for 10 s: about 15 new entities.
  CHECK(new_ids >= 5);
  CHECK(new_ids <= 40);

  // Between frames 3 apart, about a quarter of the entities present in both changed.
  const std::size_t fields = DemoScene::kFieldCount;
  std::size_t changed = 0, common = 0;
  for (std::size_t i = 3; i < a.frames.size(); ++i) {
    const RecordedFrame& now = a.frames[i];
    const RecordedFrame& then = a.frames[i - 3];
    for (std::size_t e = 0; e < now.size(); ++e) {
      const auto at = std::lower_bound(then.ids.begin(), then.ids.end(), now.ids[e]);
      if (at == then.ids.end() || *at != now.ids[e]) continue;
      ++common;
      const auto before = then.entity(static_cast<std::size_t>(at - then.ids.begin()), fields);
      const auto after = now.entity(e, fields);
      changed += std::equal(before.begin(), before.end(), after.begin()) ? 0 : 1;
    }
  }
  const double fraction = static_cast<double>(changed) / static_cast<double>(common);
  CHECK(fraction > 0.2);
  CHECK(fraction < 0.32);
}

TEST_CASE("cube scene: 901 bodies quantized like the challenge, mostly at rest, groups moving") {
  // 8 s of scene; determinism is checked on a prefix (the simulation is slow under sanitizers).
  const Replay a = volley::bench::record_cube_scene({.seed = 7}, 480);
  const Replay again = volley::bench::record_cube_scene({.seed = 7}, 90);
  CHECK(std::equal(again.frames.begin(), again.frames.end(), a.frames.begin()));
  CHECK_FALSE(again.frames == volley::bench::record_cube_scene({.seed = 8}, 90).frames);
  CHECK(a.fields == std::vector<FieldWidth>{2, 9, 9, 9, -15, -15, 13, 1});
  CHECK(volley::bench::validate_replay(a).empty());
  REQUIRE(a.frames.size() == 480);
  const std::size_t fields = CubeScene::kFieldCount;
  std::size_t changed_total = 0, max_changed = 0, interacting_total = 0, sunk = 0;
  for (std::size_t i = 6; i < a.frames.size(); ++i) {
    std::size_t changed = 0;
    for (std::size_t e = 0; e < 901; ++e) {
      const auto now = a.frames[i].entity(e, fields);
      const auto then = a.frames[i - 6].entity(e, fields);
      changed += std::equal(now.begin(), now.end(), then.begin()) ? 0 : 1;
      interacting_total += static_cast<std::size_t>(now[7]);
      // Resting cubes lie on the ground: the centre of a 1 m cube at 0.5 m = 256 units.
      if (now[7] == 0 && e != 0 && now[6] < 250) ++sunk;
    }
    changed_total += changed;
    max_changed = std::max(max_changed, changed);
  }
  const double mean_changed = static_cast<double>(changed_total) / 474.0;
  CHECK(mean_changed > 10);    // groups move
  CHECK(mean_changed < 200);   // most of the 901 rest
  CHECK(max_changed > 40);     // a blast moves a group at once
  CHECK(interacting_total > 0);
  CHECK(sunk == 0);

  // Cubes push each other: none ends up inside another (centres of 1 m cubes >= 0.8 m apart).
  std::size_t inside = 0;
  const RecordedFrame& last = a.frames.back();
  for (std::size_t e = 1; e < last.size(); ++e) {
    for (std::size_t g = e + 1; g < last.size(); ++g) {
      const auto p = last.entity(e, fields);
      const auto q = last.entity(g, fields);
      const double dx = (p[4] - q[4]) / 512.0, dy = (p[5] - q[5]) / 512.0, dz = (p[6] - q[6]) / 512.0;
      inside += dx * dx + dy * dy + dz * dz < 0.8 * 0.8 ? 1 : 0;
    }
  }
  CHECK(inside == 0);
}
