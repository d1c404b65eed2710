// Round-trip times in microseconds, as a log-linear histogram: exact below 32 µs, then 32
// buckets per power of two (at most 3% wide), so millions of samples cost a few KiB and merge
// by addition. The run keeps one for everything and one per second for the plots.
#pragma once

#include <cstddef>
#include <cstdint>
#include <vector>

#include "volley/vocabulary/time.hpp"

namespace volley::bots {

class LatencyHistogram {
 public:
  struct Bucket {
    TimePoint lower_us = 0;
    TimePoint upper_us = 0;  // inclusive
    std::uint64_t count = 0;
  };

  void record(TimePoint us) noexcept;
  void merge(const LatencyHistogram& other);
  void clear() noexcept;
  std::uint64_t count() const noexcept { return count_; }
  TimePoint max() const noexcept { return max_; }
  // Nearest-rank percentile (p in 0..100): the upper edge of its bucket, capped at max(); 0 when
  // empty.
  TimePoint percentile(double p) const noexcept;
  // Non-empty buckets, lowest first.
  std::vector<Bucket> buckets() const;

 private:
  std::vector<std::uint64_t> counts_;
  std::uint64_t count_ = 0;
  TimePoint max_ = 0;
};

}  // namespace volley::bots
