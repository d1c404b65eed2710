#include "support/seed.hpp"

#include <cstdlib>
#include <string>

namespace volley::test {
namespace {
std::uint64_t g_seed = 0x5eed'0f'7011e7ULL;
}

void init_seed_from_env() {
  if (const char* env = std::getenv("VOLLEY_TEST_SEED"); env != nullptr && *env != '\0') {
    g_seed = std::stoull(env, nullptr, 0);
  }
}

std::uint64_t base_seed() { return g_seed; }

std::mt19937_64 rng_for(std::uint64_t index) { return std::mt19937_64(g_seed ^ index); }

}  // namespace volley::test
