// Fixed-bound histogram counting for Server's distributions (ServerStats::Histogram): a few
// compares and one increment per observation, no allocation; the public, cumulative form is
// built only when stats are asked for.
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>

#include "volley/server/server.hpp"

namespace volley::server {

template <std::size_t N>
class BucketCounts {
 public:
  explicit constexpr BucketCounts(const std::array<double, N>& bounds) : bounds_(bounds) {}

  void add(double value) noexcept {
    std::size_t i = 0;
    while (i < N && value > bounds_[i]) ++i;
    counts_[i] += 1;
    sum_ += value;
  }

  Histogram histogram() const {
    Histogram h;
    h.bounds.assign(bounds_.begin(), bounds_.end());
    h.counts.resize(N + 1);
    std::uint64_t running = 0;
    for (std::size_t i = 0; i <= N; ++i) {
      running += counts_[i];
      h.counts[i] = running;
    }
    h.sum = sum_;
    return h;
  }

 private:
  std::array<double, N> bounds_;
  std::array<std::uint64_t, N + 1> counts_{};  // [N]: above every bound
  double sum_ = 0;
};

}  // namespace volley::server
