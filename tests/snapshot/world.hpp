// Seeded random worlds for the codec tests: several entity types (a rigid body, one with the
// widest fields, a tiny one), frames that evolve (moves, spawns, despawns, type changes) and
// random subsets of them.
#pragma once

#include <cstdint>
#include <random>

#include "volley/snapshot/event.hpp"
#include "volley/snapshot/frame.hpp"
#include "volley/snapshot/schema.hpp"

namespace volley::test {

// Types: 0 = rigid body {2, 9, 9, 9, -15, -15, 13, 1}; 1 = extremes {32, -32, 1, -1, 31, -31};
// 2 = tiny {3}; 3 = wide (70 fields would be invalid, so 64 mixed fields).
snapshot::Schema test_schema();

std::int32_t random_value(std::mt19937_64& rng, snapshot::FieldWidth w);

// `entities` entities with ids spread over [0, 4 * entities), random types.
snapshot::Frame random_frame(std::mt19937_64& rng, const snapshot::Schema& schema,
                             std::size_t entities, std::uint32_t number);

// The next frame: each entity changes some fields with probability `change`, small steps or
// jumps; a few despawn, change type or spawn.
snapshot::Frame evolve(std::mt19937_64& rng, const snapshot::Schema& schema,
                       const snapshot::Frame& from, double change, std::uint32_t number);

// Each entity kept with probability `keep`.
snapshot::Frame subset(std::mt19937_64& rng, const snapshot::Frame& from, double keep);

std::vector<snapshot::Event> random_events(std::mt19937_64& rng, std::uint64_t first_id,
                                           std::size_t count);

}  // namespace volley::test
