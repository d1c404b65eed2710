#include "latency_histogram.hpp"

#include <algorithm>
#include <bit>
#include <cmath>

namespace volley::bots {
namespace {

constexpr std::uint64_t kSub = 32;

std::size_t index_of(std::uint64_t v) {
  if (v < kSub) return static_cast<std::size_t>(v);
  const auto shift = static_cast<std::uint64_t>(std::bit_width(v)) - 6;  // v >> shift in 32..63
  return static_cast<std::size_t>(kSub + shift * kSub + ((v >> shift) - kSub));
}

LatencyHistogram::Bucket bucket_of(std::size_t index, std::uint64_t count) {
  if (index < kSub) return {static_cast<TimePoint>(index), static_cast<TimePoint>(index), count};
  const std::uint64_t shift = (index - kSub) / kSub;
  const std::uint64_t mantissa = kSub + (index - kSub) % kSub;
  return {static_cast<TimePoint>(mantissa << shift), static_cast<TimePoint>(((mantissa + 1) << shift) - 1), count};
}

}  // namespace

void LatencyHistogram::record(TimePoint us) noexcept {
  const std::uint64_t v = us < 0 ? 0 : static_cast<std::uint64_t>(us);
  const std::size_t i = index_of(v);
  if (i >= counts_.size()) counts_.resize(i + 1, 0);
  ++counts_[i];
  ++count_;
  max_ = std::max(max_, static_cast<TimePoint>(v));
}

void LatencyHistogram::merge(const LatencyHistogram& other) {
  if (other.counts_.size() > counts_.size()) counts_.resize(other.counts_.size(), 0);
  for (std::size_t i = 0; i < other.counts_.size(); ++i) counts_[i] += other.counts_[i];
  count_ += other.count_;
  max_ = std::max(max_, other.max_);
}

void LatencyHistogram::clear() noexcept {
  std::fill(counts_.begin(), counts_.end(), 0);
  count_ = 0;
  max_ = 0;
}

TimePoint LatencyHistogram::percentile(double p) const noexcept {
  if (count_ == 0) return 0;
  const auto rank = std::max<std::uint64_t>(
      1, static_cast<std::uint64_t>(std::ceil(std::clamp(p, 0.0, 100.0) / 100.0 * static_cast<double>(count_))));
  std::uint64_t seen = 0;
  for (std::size_t i = 0; i < counts_.size(); ++i) {
    seen += counts_[i];
    if (seen >= rank) return std::min(bucket_of(i, 0).upper_us, max_);
  }
  return max_;
}

std::vector<LatencyHistogram::Bucket> LatencyHistogram::buckets() const {
  std::vector<Bucket> out;
  for (std::size_t i = 0; i < counts_.size(); ++i) {
    if (counts_[i] != 0) out.push_back(bucket_of(i, counts_[i]));
  }
  return out;
}

}  // namespace volley::bots
