// BucketCounts: a value equal to a bound counts in that bound's bucket (Prometheus `le`), the
// public histogram is cumulative with one bucket past the last bound, and the sum is kept.
#include <doctest/doctest.h>

#include "bucket_counts.hpp"

using volley::server::BucketCounts;

TEST_CASE("bucket counts: a value on a bound is counted at that bound, the counts are cumulative") {
  BucketCounts<3> counts({1, 2, 4});
  for (const double v : {0.5, 1.0, 1.5, 2.0, 4.0, 4.5}) counts.add(v);
  const volley::server::Histogram h = counts.histogram();
  CHECK(h.bounds == std::vector<double>{1, 2, 4});
  // le 1: 0.5 and 1.0; le 2: + 1.5 and 2.0; le 4: + 4.0; +Inf: + 4.5.
  CHECK(h.counts == std::vector<std::uint64_t>{2, 4, 5, 6});
  CHECK(h.sum == doctest::Approx(13.5));
}
