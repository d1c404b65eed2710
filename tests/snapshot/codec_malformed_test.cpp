// Every malformed class is rejected with its own named error. Bodies are crafted with the
// generated FlatBuffer code and the codec's own coders, then really compressed, so each check is
// reached past every layer in front of it.
#include <doctest/doctest.h>
#include <zstd.h>

#include <functional>
#include <set>
#include <string>
#include <vector>

#include "model.hpp"
#include "range_bits.hpp"
#include "rice.hpp"
#include "snapshot/world.hpp"
#include "snapshot_generated.h"
#include "support/seed.hpp"
#include "volley/snapshot/checksum.hpp"
#include "volley/snapshot/codec.hpp"
#include "wire.hpp"

using namespace volley::snapshot;
namespace wire = volley::snapshot::wire;
using detail::BitModel;
using detail::BitWriter;
using detail::RangeWriter;
using detail::RiceContext;

namespace {

constexpr std::uint16_t kTiny = 2;  // test_schema(): one unsigned 3-bit field

struct Body {
  std::uint32_t entities = 0, removed = 0, changed = 0, created = 0;
  std::function<void(BitWriter&)> stream;      // the Rice stream after the counts
  std::function<void(RangeWriter&)> flag_bits;  // the flags column, if any
  bool extra_stream_byte = false, extra_flags_byte = false;
  bool no_data = false;
  bool no_hint = false;  // changed flags to code: the hint field (0 = none) follows the counts
  std::vector<std::uint64_t> event_ids;
  std::vector<std::uint16_t> event_kinds;
  std::vector<std::uint8_t> event_sizes, event_payload;

  std::vector<std::uint8_t> data() const {
    std::vector<std::uint8_t> bits, flags;
    {
      BitWriter w(bits);
      for (std::uint32_t c : {entities, removed, changed, created}) w.universal(c);
      if (changed > 0 && !no_hint) w.universal(0);
      if (stream) stream(w);
      bits.resize(w.finish());
    }
    if (flag_bits) {
      RangeWriter f(flags);
      flag_bits(f);
      f.finish();
    }
    if (extra_stream_byte) bits.push_back(0);
    if (extra_flags_byte) flags.push_back(0);
    std::vector<std::uint8_t> d{static_cast<std::uint8_t>(flags.size())};  // < 128 here
    d.insert(d.end(), flags.begin(), flags.end());
    d.insert(d.end(), bits.begin(), bits.end());
    return d;
  }
  std::vector<std::uint8_t> build() const {
    flatbuffers::FlatBufferBuilder fbb;
    const std::vector<std::uint8_t> d = data();
    fbb.Finish(wire::CreateSnapshotDirect(fbb, no_data ? nullptr : &d,
                                          event_ids.empty() ? nullptr : &event_ids,
                                          event_kinds.empty() ? nullptr : &event_kinds,
                                          event_sizes.empty() ? nullptr : &event_sizes,
                                          event_payload.empty() ? nullptr : &event_payload));
    return {fbb.GetBufferPointer(), fbb.GetBufferPointer() + fbb.GetSize()};
  }
};

std::vector<std::uint8_t> packet_of(const Header& h, const std::vector<std::uint8_t>& body) {
  std::vector<std::uint8_t> p(kHeaderBytes + ZSTD_compressBound(body.size()));
  detail::write_header(p.data(), h);
  const std::size_t n = ZSTD_compress(p.data() + kHeaderBytes, p.size() - kHeaderBytes, body.data(), body.size(), 3);
  REQUIRE(!ZSTD_isError(n));
  p.resize(kHeaderBytes + n);
  return p;
}

struct Fixture {
  Schema schema = volley::test::test_schema();
  CodecConfig config;
  Frame out;
  std::vector<Event> events;

  std::string decode(const std::vector<std::uint8_t>& packet, const Frame* base = nullptr) {
    Decoder d(schema, config);
    return std::string(decode_error_name(d.decode(packet, base, out, events)));
  }
  // A tiny-type frame with entities 1..count, values i % 8.
  static Frame tiny_frame(std::uint32_t number, std::uint32_t count) {
    Frame f;
    f.number = number;
    for (std::uint32_t i = 1; i <= count; ++i) {
      const std::int32_t v[1] = {static_cast<std::int32_t>(i % 8)};
      f.add(i, kTiny, v);
    }
    return f;
  }
  std::vector<std::uint8_t> encode(const Frame* base, const Frame& next) {
    Encoder e(schema, config);
    std::vector<std::uint8_t> p(64 * 1024);
    p.resize(e.encode(base, next, {}, p));
    REQUIRE(!p.empty());
    return p;
  }
};

// One created entity the way the encoder writes it (id gap, type, value code), fresh contexts.
std::function<void(BitWriter&)> one_created(std::uint32_t id_gap, std::uint32_t type, std::uint32_t code) {
  return [=](BitWriter& w) {
    RiceContext gap, type_ctx, value;
    w.rice(gap, id_gap, 32);
    w.rice(type_ctx, type, 16);
    w.rice(value, code, 32);
  };
}

// Against tiny_frame(1, 3): the first kept entity changed (flags: its changed bit, then the mask
// bit of the tiny type's one field).
std::function<void(RangeWriter&)> first_changed(bool field_changed) {
  return [=](RangeWriter& f) {
    BitModel changed[2];
    detail::FieldFlags field;
    f.bit(changed[0], true);
    f.bit(field.changed[1], field_changed);
  };
}

}  // namespace

TEST_CASE("every decode error has its own name") {
  std::set<std::string> names;
  for (int i = 0; i < static_cast<int>(DecodeError::kCount); ++i)
    names.insert(std::string(decode_error_name(static_cast<DecodeError>(i))));
  CHECK(names.size() == static_cast<std::size_t>(DecodeError::kCount));
  CHECK(names.count("unknown") == 0);
}

// The coders' own limits: a Rice or universal code for 2^32 or more is refused, never wrapped
// into a small value.
TEST_CASE("rice and universal codes take 2^32 - 1 and refuse 2^32") {
  std::vector<std::uint8_t> bytes;
  {
    BitWriter w(bytes);
    w.put(0b01, 2);  // Rice with k = 31: quotient 1...
    w.put(0x7FFFFFFF, 31);  // ...and the remainder: 2^32 - 1
    w.put(0b011, 3);  // quotient 2: 2^32
    w.put(0, 31);
    w.universal(0xFFFFFFFFu);
    w.put(0xFFFFFFFFu, 32);  // 32 ones, the zero, then 32 low bits holding 1: 2^32
    w.put(0, 1);
    w.put(1, 16);
    w.put(0, 16);
    bytes.resize(w.finish());
  }
  detail::BitReader r(bytes);
  RiceContext first, second;  // k = 1; with the shift of 30, 31
  std::uint32_t v = 0;
  CHECK(r.rice(first, 32, v, 30));
  CHECK(v == 0xFFFFFFFFu);
  CHECK_FALSE(r.rice(second, 32, v, 30));
  CHECK(r.universal(v));
  CHECK(v == 0xFFFFFFFFu);
  CHECK_FALSE(r.universal(v));
}

TEST_CASE("crafted well-formed bodies decode: the crafting itself is right") {
  Fixture f;
  Body b;
  b.entities = b.created = 1;
  b.stream = one_created(5, kTiny, 7);
  Frame expect;
  const std::int32_t v[1] = {7};
  expect.add(5, kTiny, v);
  expect.number = 9;
  CHECK(f.decode(packet_of({9, 0, 0, state_checksum(expect, {})}, b.build())) == "ok");
  CHECK(f.out == expect);

  const Frame base = Fixture::tiny_frame(1, 3);
  Body d;  // entity 1 of the baseline goes from 1 to 4
  d.entities = 3;
  d.changed = 1;
  d.flag_bits = first_changed(true);
  d.stream = [](BitWriter& w) {
    RiceContext residual;
    w.universal(1);  // the field's residual context starts at k = 1
    w.put(0, 1);  // no predictor
    w.rice(residual, detail::zigzag(3) - 1, 32);  // unpredicted: z - 1 is sent
  };
  Frame next = base;
  next.clear();
  next.number = 2;
  for (std::uint32_t i = 1; i <= 3; ++i) {
    const std::int32_t value[1] = {i == 1 ? 4 : static_cast<std::int32_t>(i)};
    next.add(i, kTiny, value);
  }
  CHECK(f.decode(packet_of({2, 1, kFlagDelta, state_checksum(next, {})}, d.build()), &base) == "ok");
  CHECK(f.out == next);
}

TEST_CASE("truncated: shorter than the header, or a stream shorter than its counts") {
  Fixture f;
  const auto good = f.encode(nullptr, Fixture::tiny_frame(1, 10));
  CHECK(f.decode({good.begin(), good.begin() + 10}) == "truncated");
  CHECK(f.decode({}) == "truncated");
  Body b;
  b.entities = b.created = 3;  // three created entities, bits for none
  CHECK(f.decode(packet_of({1, 0, 0, 0}, b.build())) == "truncated");
  Body none;  // no data column at all
  none.no_data = true;
  CHECK(f.decode(packet_of({1, 0, 0, 0}, none.build())) == "truncated");
}

TEST_CASE("bad magic, bad version, unknown flags, dictionary mismatch") {
  Fixture f;
  const auto good = f.encode(nullptr, Fixture::tiny_frame(1, 10));
  auto p = good;
  p[0] = 'X';
  CHECK(f.decode(p) == "bad_magic");
  p = good;
  p[2] = kWireVersion + 1;
  CHECK(f.decode(p) == "bad_version");
  p = good;
  p[3] |= 0x80;
  CHECK(f.decode(p) == "bad_flags");
  p = good;
  p[3] |= kFlagDictionary;
  CHECK(f.decode(p) == "dictionary_mismatch");
}

TEST_CASE("baseline mismatch: no baseline, or a different frame number than the header names") {
  Fixture f;
  const Frame a = Fixture::tiny_frame(5, 10);
  const Frame b = Fixture::tiny_frame(6, 12);
  const auto p = f.encode(&a, b);
  CHECK(f.decode(p, nullptr) == "baseline_mismatch");
  Frame other = a;
  other.number = 4;
  CHECK(f.decode(p, &other) == "baseline_mismatch");
  CHECK(f.decode(p, &a) == "ok");
}

TEST_CASE("bad checksum: a flipped checksum, and a baseline that differs under the same number") {
  Fixture f;
  const Frame a = Fixture::tiny_frame(5, 10);
  const Frame b = Fixture::tiny_frame(6, 12);
  auto p = f.encode(&a, b);
  p[12] ^= 1;
  CHECK(f.decode(p, &a) == "bad_checksum");
  p[12] ^= 1;
  Frame wrong = Fixture::tiny_frame(5, 10);  // same number, one value differs: a desync
  wrong.clear();
  for (std::uint32_t i = 1; i <= 10; ++i) {
    const std::int32_t v[1] = {static_cast<std::int32_t>(i == 3 ? 0 : i % 8)};
    wrong.add(i, kTiny, v);
  }
  CHECK(f.decode(p, &wrong) == "bad_checksum");
}

TEST_CASE("corrupt compression: not zstd, trailing bytes, damaged frame") {
  Fixture f;
  const auto good = f.encode(nullptr, Fixture::tiny_frame(1, 50));
  auto p = good;
  for (std::size_t i = kHeaderBytes; i < p.size(); ++i) p[i] = static_cast<std::uint8_t>(i * 37);
  CHECK(f.decode(p) == "corrupt_compression");
  p = good;
  p.push_back(0);
  CHECK(f.decode(p) == "corrupt_compression");
  p = good;
  p.resize(p.size() - 2);
  CHECK(f.decode(p) == "corrupt_compression");
}

TEST_CASE("oversize: the packet, or the content size zstd declares, over the limit") {
  Fixture f;
  f.config.max_packet_bytes = 512;
  Body b;
  b.event_ids.assign(3, 1);
  b.event_kinds.assign(3, 1);
  b.event_sizes.assign(3, 255);
  b.event_payload.assign(765, 0);  // compresses to a few bytes, declares ~800
  const auto p = packet_of({1, 0, 0, 0}, b.build());
  REQUIRE(p.size() < 512);
  CHECK(f.decode(p) == "oversize");
  std::vector<std::uint8_t> big(600, 0);
  detail::write_header(big.data(), {1, 0, 0, 0});
  CHECK(f.decode(big) == "oversize");
  big.resize(513);  // one byte over the limit
  CHECK(f.decode(big) == "oversize");
  big.resize(512);  // at the limit: read, and refused for what it holds
  CHECK(f.decode(big) != "oversize");
}

TEST_CASE("a body failing FlatBuffers verification") {
  Fixture f;
  std::vector<std::uint8_t> body = Body{}.build();
  body[0] = 0xF0;  // root offset past the end
  CHECK(f.decode(packet_of({1, 0, 0, 0}, body)) == "verify_failed");
  std::vector<std::uint8_t> junk{1, 2, 3};
  CHECK(f.decode(packet_of({1, 0, 0, 0}, junk)) == "verify_failed");
  Body good;
  good.event_ids = {1};
  good.event_kinds = {1};
  good.event_sizes = {8};
  good.event_payload = {1, 2, 3, 4, 5, 6, 7, 8};
  std::vector<std::uint8_t> vec = good.build();
  // Grow the payload vector's length field so it runs past the buffer.
  bool grown = false;
  for (std::size_t i = 0; i + 5 <= vec.size() && !grown; ++i)
    if (vec[i] == 8 && vec[i + 1] == 0 && vec[i + 2] == 0 && vec[i + 3] == 0 && vec[i + 4] == 1) {
      vec[i + 2] = 1;
      grown = true;
    }
  REQUIRE(grown);
  CHECK(f.decode(packet_of({1, 0, 0, 0}, vec)) == "verify_failed");
}

TEST_CASE("entity out of range: counts inconsistent, unknown type, id clash, and over the limit too many entities") {
  Fixture f;
  f.config.max_entities = 100;
  Body b;
  b.entities = b.created = 101;
  CHECK(f.decode(packet_of({1, 0, 0, 0}, b.build())) == "too_many_entities");
  b.entities = b.created = 100;
  CHECK(f.decode(packet_of({1, 0, 0, 0}, b.build())) != "too_many_entities");
  Body c;
  c.entities = 5;
  c.created = 4;  // 0 kept + 4 created != 5
  CHECK(f.decode(packet_of({1, 0, 0, 0}, c.build())) == "entity_out_of_range");

  Body t;
  t.entities = t.created = 1;
  t.stream = one_created(0, 9, 0);  // type 9 does not exist
  CHECK(f.decode(packet_of({1, 0, 0, 0}, t.build())) == "entity_out_of_range");
  t.stream = one_created(0, f.schema.type_count(), 0);  // one past the last type
  CHECK(f.decode(packet_of({1, 0, 0, 0}, t.build())) == "entity_out_of_range");

  Body v;  // ids 2^32 - 1 (fits), then 2^32 (does not)
  v.entities = v.created = 2;
  v.stream = [](BitWriter& w) {
    RiceContext gap, type_ctx, value;
    for (const std::uint32_t id_gap : {0xFFFFFFFFu, 0u}) {
      w.rice(gap, id_gap, 32);
      w.rice(type_ctx, kTiny, 16);
      w.rice(value, 1, 32);
    }
  };
  CHECK(f.decode(packet_of({1, 0, 0, 0}, v.build())) == "entity_out_of_range");

  // Delta: a created entity whose id is already kept from the baseline.
  const Frame base = Fixture::tiny_frame(1, 3);  // ids 1, 2, 3
  Body d;
  d.entities = 4;
  d.created = 1;
  d.stream = one_created(2, kTiny, 1);  // id 2
  CHECK(f.decode(packet_of({2, 1, kFlagDelta, 0}, d.build()), &base) == "entity_out_of_range");
  Body r;  // remove baseline index 7 of 3
  r.entities = 2;
  r.removed = 1;
  r.stream = [](BitWriter& w) {
    RiceContext gap((3 - 1) / (1 + 1));  // the decoder's removed-gap start: kept / (removed + 1)
    w.rice(gap, 7, 32);
  };
  CHECK(f.decode(packet_of({2, 1, kFlagDelta, 0}, r.build()), &base) == "entity_out_of_range");
  r.stream = [](BitWriter& w) {  // index 3 of 3: one past the last
    RiceContext gap((3 - 1) / (1 + 1));
    w.rice(gap, 3, 32);
  };
  CHECK(f.decode(packet_of({2, 1, kFlagDelta, 0}, r.build()), &base) == "entity_out_of_range");
  Body g;  // one changed entity announced, the flags mark none of the 3 kept
  g.entities = 3;
  g.changed = 1;
  g.flag_bits = [](RangeWriter& w) {
    BitModel changed[2];
    for (int i = 0; i < 3; ++i) w.bit(changed[0], false);
  };
  CHECK(f.decode(packet_of({2, 1, kFlagDelta, 0}, g.build()), &base) == "entity_out_of_range");
}

TEST_CASE("field out of range: a value or residual wider than its field, a predictor source past the fields") {
  Fixture f;
  Body b;
  b.entities = b.created = 1;
  b.stream = one_created(0, kTiny, 10);  // 10 does not fit in 3 bits
  CHECK(f.decode(packet_of({1, 0, 0, 0}, b.build())) == "field_out_of_range");

  const Frame base = Fixture::tiny_frame(1, 3);
  Body p;
  p.entities = 3;
  p.changed = 1;
  p.flag_bits = first_changed(true);
  p.stream = [](BitWriter& w) {
    w.universal(1);  // the field's residual context starts at k = 1
    w.put(1, 1);     // field 0 is predicted...
    w.universal(5);  // ...from field 5, which the tiny type does not have
    w.universal(0);
    w.universal(2);
  };
  CHECK(f.decode(packet_of({2, 1, kFlagDelta, 0}, p.build()), &base) == "field_out_of_range");
  p.stream = [](BitWriter& w) {
    w.universal(1);
    w.put(1, 1);
    w.universal(1);  // field 1: one past the tiny type's only field
    w.universal(0);
    w.universal(2);
  };
  CHECK(f.decode(packet_of({2, 1, kFlagDelta, 0}, p.build()), &base) == "field_out_of_range");
  Body m;
  m.entities = 3;
  m.changed = 1;
  m.flag_bits = first_changed(true);
  m.stream = [](BitWriter& w) {
    RiceContext residual;
    w.universal(1);  // the field's residual context starts at k = 1
    w.put(0, 1);               // no predictor
    w.rice(residual, 10, 32);  // a residual of 10 in a 3-bit field
  };
  CHECK(f.decode(packet_of({2, 1, kFlagDelta, 0}, m.build()), &base) == "field_out_of_range");
  Body o = m;  // z - 1 = 7 fits 3 bits, z = 8 does not
  o.stream = [](BitWriter& w) {
    RiceContext residual;
    w.universal(1);
    w.put(0, 1);
    w.rice(residual, 7, 32);
  };
  CHECK(f.decode(packet_of({2, 1, kFlagDelta, 0}, o.build()), &base) == "field_out_of_range");
}

TEST_CASE("event out of range: too many, columns of different lengths, sizes not matching") {
  Fixture f;
  f.config.max_events = 2;
  Body b;
  b.event_ids = {1, 2, 3};
  b.event_kinds = {1, 1, 1};
  b.event_sizes = {0, 0, 0};
  CHECK(f.decode(packet_of({1, 0, 0, 0}, b.build())) == "event_out_of_range");
  Body c;
  c.event_ids = {1, 2};
  c.event_kinds = {1};
  c.event_sizes = {0, 0};
  CHECK(f.decode(packet_of({1, 0, 0, 0}, c.build())) == "event_out_of_range");
  Body d;
  d.event_ids = {1};
  d.event_kinds = {1};
  d.event_sizes = {4};
  d.event_payload = {1, 2, 3};
  CHECK(f.decode(packet_of({1, 0, 0, 0}, d.build())) == "event_out_of_range");
  d.event_payload = {1, 2, 3, 4, 5};  // one byte more than the sizes account for
  CHECK(f.decode(packet_of({1, 0, 0, 0}, d.build())) == "event_out_of_range");
}

TEST_CASE("corrupt stream: trailing bytes in either column, an empty change mask, a bad hint field") {
  Fixture f;
  Body b;
  b.entities = b.created = 1;
  b.stream = one_created(0, kTiny, 1);
  b.extra_stream_byte = true;
  CHECK(f.decode(packet_of({1, 0, 0, 0}, b.build())) == "corrupt_stream");
  b.stream = [](BitWriter& w) {  // 16 bits in all, so the extra byte is exactly the 8 bits left
    one_created(0, kTiny, 2)(w);
    CHECK(w.bit_count() % 8 == 0);
  };
  CHECK(f.decode(packet_of({1, 0, 0, 0}, b.build())) == "corrupt_stream");

  const Frame base = Fixture::tiny_frame(1, 3);
  Body m;  // a changed entity whose mask says nothing changed
  m.entities = 3;
  m.changed = 1;
  m.flag_bits = first_changed(false);
  m.stream = [](BitWriter& w) {
    w.universal(1);  // the residual context starts at k = 1
    w.put(0, 1);
  };
  CHECK(f.decode(packet_of({2, 1, kFlagDelta, 0}, m.build()), &base) == "corrupt_stream");
  Body x;  // a well-formed change with one byte too many in the flags column
  x.entities = 3;
  x.changed = 1;
  x.flag_bits = first_changed(true);
  x.stream = [](BitWriter& w) {
    RiceContext residual;
    w.universal(1);  // the field's residual context starts at k = 1
    w.put(0, 1);
    w.rice(residual, 2, 32);
  };
  x.extra_flags_byte = true;
  CHECK(f.decode(packet_of({2, 1, kFlagDelta, 0}, x.build()), &base) == "corrupt_stream");
  Body h;  // a hint field past any type's fields
  h.entities = 3;
  h.changed = 1;
  h.no_hint = true;
  h.flag_bits = first_changed(true);
  h.stream = [](BitWriter& w) { w.universal(kMaxFieldsPerType + 5); };
  CHECK(f.decode(packet_of({2, 1, kFlagDelta, 0}, h.build()), &base) == "corrupt_stream");
  Body y;  // flags where no entity changed
  y.entities = 3;
  y.flag_bits = first_changed(true);
  CHECK(f.decode(packet_of({2, 1, kFlagDelta, 0}, y.build()), &base) == "corrupt_stream");
}
