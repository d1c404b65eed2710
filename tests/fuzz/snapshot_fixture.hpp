// The fixed world the snapshot fuzz target and its seed generator share: the codec tests'
// schema, a baseline frame 100 and its successor 101 (deterministic), so fuzzed deltas meet a
// real baseline and the seeds are packets the encoder made against exactly these frames.
#pragma once

#include <cstdint>
#include <random>
#include <vector>

#include "snapshot/world.hpp"
#include "volley/snapshot/codec.hpp"

namespace volley::fuzz {

struct SnapshotWorld {
  snapshot::Schema schema = test::test_schema();
  snapshot::CodecConfig codec{};
  snapshot::Frame base;  // frame 100
  snapshot::Frame next;  // frame 101, evolved from 100
  snapshot::Frame later; // frame 102, evolved from 101
  std::vector<snapshot::Event> events;

  SnapshotWorld() {
    std::mt19937_64 rng(0x5EED'F022);
    base = test::random_frame(rng, schema, 24, 100);
    next = test::evolve(rng, schema, base, 0.3, 101);
    later = test::evolve(rng, schema, next, 0.3, 102);
    events = test::random_events(rng, 1, 3);
  }
  const snapshot::Frame* by_number(std::uint32_t number) const {
    if (number == base.number) return &base;
    if (number == next.number) return &next;
    if (number == later.number) return &later;
    return nullptr;
  }
};

}  // namespace volley::fuzz
