// SplitMix64: a tiny seeded generator whose sequence is fixed by its seed on every platform and
// standard library (std's distributions are not), so the unit tests can pin exact outputs.
#pragma once

#include <cstdint>

namespace volley::attack {

class Rng {
 public:
  explicit Rng(std::uint64_t seed) noexcept : state_(seed) {}
  std::uint64_t next() noexcept {
    std::uint64_t z = (state_ += 0x9E3779B97F4A7C15ull);
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
    return z ^ (z >> 31);
  }
  // Uniform in [lo, hi] (hi - lo < 2^32; the modulo bias is below 2^-32, irrelevant here).
  std::uint32_t between(std::uint32_t lo, std::uint32_t hi) noexcept {
    return lo + static_cast<std::uint32_t>(next() % (std::uint64_t{hi} - lo + 1));
  }
  bool chance(double p) noexcept { return static_cast<double>(next() >> 11) * 0x1.0p-53 < p; }

 private:
  std::uint64_t state_;
};

}  // namespace volley::attack
