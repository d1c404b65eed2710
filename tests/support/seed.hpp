// Seeded randomness for tests. Every randomized test derives its generator from a seed that is
// printed when the test fails (doctest INFO), so a failure can be replayed exactly with
// VOLLEY_TEST_SEED=<seed>.
#pragma once

#include <cstdint>
#include <random>

namespace volley::test {

// Base seed: VOLLEY_TEST_SEED from the environment, else a fixed default (tests stay
// deterministic unless asked otherwise).
void init_seed_from_env();
std::uint64_t base_seed();

// A generator for sub-case `index` of a test; mixes the base seed so cases are independent.
std::mt19937_64 rng_for(std::uint64_t index);

}  // namespace volley::test

// Use inside a TEST_CASE: declares `rng` and reports the seed if any later check fails.
#define VOLLEY_SEEDED_RNG(rng, index)                                              \
  const std::uint64_t rng##_seed = ::volley::test::base_seed() ^ (index);          \
  INFO("replay with VOLLEY_TEST_SEED=", ::volley::test::base_seed(), " (case ", (index), ")"); \
  std::mt19937_64 rng(rng##_seed)
