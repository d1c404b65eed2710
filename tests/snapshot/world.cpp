#include "snapshot/world.hpp"

#include <algorithm>
#include <array>

namespace volley::test {

using snapshot::FieldWidth;
using snapshot::Frame;
using snapshot::Schema;

Schema test_schema() {
  Schema s;
  const std::array<FieldWidth, 8> body{2, 9, 9, 9, -15, -15, 13, 1};
  const std::array<FieldWidth, 6> extremes{32, -32, 1, -1, 31, -31};
  const std::array<FieldWidth, 1> tiny{3};
  std::array<FieldWidth, 64> wide{};
  for (std::size_t i = 0; i < wide.size(); ++i)
    wide[i] = static_cast<FieldWidth>((i % 2 ? -1 : 1) * static_cast<int>(1 + i % 32));
  s.add_type(body);
  s.add_type(extremes);
  s.add_type(tiny);
  s.add_type(wide);
  return s;
}

std::int32_t random_value(std::mt19937_64& rng, FieldWidth w) {
  const int bits = snapshot::field_bits(w);
  const std::uint64_t r = rng();
  std::int64_t lo = 0, hi = 0;
  if (snapshot::field_signed(w)) {
    lo = -(std::int64_t{1} << (bits - 1));
    hi = (std::int64_t{1} << (bits - 1)) - 1;
  } else {
    hi = (std::int64_t{1} << bits) - 1;
  }
  switch (r % 8) {  // extremes often: they are where width arithmetic breaks
    case 0: return static_cast<std::int32_t>(static_cast<std::uint32_t>(lo));
    case 1: return static_cast<std::int32_t>(static_cast<std::uint32_t>(hi));
    default: break;
  }
  const std::uint64_t span = static_cast<std::uint64_t>(hi - lo) + 1;
  return static_cast<std::int32_t>(static_cast<std::uint32_t>(lo + static_cast<std::int64_t>((r >> 3) % span)));
}

namespace {

void add_random(std::mt19937_64& rng, const Schema& schema, Frame& f, std::uint32_t id,
                std::uint16_t type) {
  std::array<std::int32_t, snapshot::kMaxFieldsPerType> v{};
  const auto widths = schema.fields(type);
  for (std::size_t k = 0; k < widths.size(); ++k) v[k] = random_value(rng, widths[k]);
  f.add(id, type, {v.data(), widths.size()});
}

std::uint16_t random_type(std::mt19937_64& rng, const Schema& schema) {
  // Mostly rigid bodies, as in a game.
  const std::uint64_t r = rng() % 16;
  if (r < 10) return 0;
  return static_cast<std::uint16_t>(r % schema.type_count());
}

}  // namespace

Frame random_frame(std::mt19937_64& rng, const Schema& schema, std::size_t entities,
                   std::uint32_t number) {
  Frame f;
  f.number = number;
  std::uint32_t id = static_cast<std::uint32_t>(rng() % 4);
  for (std::size_t i = 0; i < entities; ++i) {
    add_random(rng, schema, f, id, random_type(rng, schema));
    id += 1 + static_cast<std::uint32_t>(rng() % 7);
  }
  return f;
}

Frame evolve(std::mt19937_64& rng, const Schema& schema, const Frame& from, double change,
             std::uint32_t number) {
  std::uniform_real_distribution<double> u(0, 1);
  Frame f;
  f.number = number;
  std::array<std::int32_t, snapshot::kMaxFieldsPerType> v{};
  for (std::size_t i = 0; i < from.size(); ++i) {
    const double r = u(rng);
    if (r < 0.02) continue;  // despawn
    if (r < 0.03) {          // spawn just before it
      if (from.id(i) > 0 && (i == 0 || from.id(i - 1) + 1 < from.id(i)))
        add_random(rng, schema, f, from.id(i) - 1, random_type(rng, schema));
    }
    if (r > 0.995) {  // same id, another type
      add_random(rng, schema, f, from.id(i), static_cast<std::uint16_t>((from.type(i) + 1) % schema.type_count()));
      continue;
    }
    const auto widths = schema.fields(from.type(i));
    const auto old = from.values(i);
    std::copy(old.begin(), old.end(), v.begin());
    if (u(rng) < change) {
      for (std::size_t k = 0; k < widths.size(); ++k) {
        const double c = u(rng);
        if (c < 0.5) continue;
        if (c < 0.9) {  // a small step, kept in range
          const std::int64_t step = static_cast<std::int64_t>(rng() % 65) - 32;
          const auto moved = static_cast<std::int32_t>(static_cast<std::uint32_t>(v[k]) + static_cast<std::uint32_t>(step));
          v[k] = snapshot::fits(widths[k], moved) ? moved : random_value(rng, widths[k]);
        } else {
          v[k] = random_value(rng, widths[k]);
        }
      }
    }
    f.add(from.id(i), from.type(i), {v.data(), widths.size()});
  }
  // A few spawns past the end.
  std::uint32_t id = from.empty() ? 0 : from.id(from.size() - 1) + 1;
  if (!f.empty()) id = std::max(id, f.id(f.size() - 1) + 1);
  const std::size_t spawns = rng() % 3;
  for (std::size_t i = 0; i < spawns; ++i) add_random(rng, schema, f, id++, random_type(rng, schema));
  return f;
}

Frame subset(std::mt19937_64& rng, const Frame& from, double keep) {
  std::uniform_real_distribution<double> u(0, 1);
  Frame f;
  f.number = from.number;
  for (std::size_t i = 0; i < from.size(); ++i)
    if (u(rng) < keep) f.add(from.id(i), from.type(i), from.values(i));
  return f;
}

std::vector<snapshot::Event> random_events(std::mt19937_64& rng, std::uint64_t first_id,
                                           std::size_t count) {
  std::vector<snapshot::Event> events(count);
  for (std::size_t i = 0; i < count; ++i) {
    events[i].id = first_id + i;
    events[i].kind = static_cast<std::uint16_t>(rng());
    events[i].payload.resize(rng() % (snapshot::kMaxEventPayload + 1));
    for (auto& b : events[i].payload) b = static_cast<std::uint8_t>(rng());
  }
  return events;
}

}  // namespace volley::test
