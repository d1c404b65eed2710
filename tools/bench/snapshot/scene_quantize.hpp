// Quantization the scene generators use until the codec publishes its helpers: fixed-point
// positions clamped to their range, and the "smallest three" quaternion (index of the largest
// component in 2 bits, the other three mapped from [-1/sqrt2, 1/sqrt2] to unsigned n bits).
#pragma once

#include <algorithm>
#include <array>
#include <cmath>
#include <cstdint>

#include "scene_math.hpp"

namespace volley::bench::scene {

// round(value * steps_per_unit) clamped to [lo, hi].
inline std::int32_t quantize_fixed(double value, double steps_per_unit, std::int32_t lo, std::int32_t hi) {
  const double q = std::nearbyint(value * steps_per_unit);
  return static_cast<std::int32_t>(std::clamp(q, static_cast<double>(lo), static_cast<double>(hi)));
}

// {largest index, a, b, c}; the quaternion is negated when needed so the dropped component is
// positive (q and -q are the same rotation).
inline std::array<std::int32_t, 4> quantize_smallest_three(Quat q, int bits) {
  const double c[4] = {q.x, q.y, q.z, q.w};
  int largest = 0;
  for (int i = 1; i < 4; ++i) {
    if (std::fabs(c[i]) > std::fabs(c[largest])) largest = i;
  }
  const double sign = c[largest] < 0 ? -1.0 : 1.0;
  const double bound = 1.0 / std::sqrt(2.0);
  const double max = static_cast<double>((1 << bits) - 1);
  std::array<std::int32_t, 4> out{largest, 0, 0, 0};
  int k = 1;
  for (int i = 0; i < 4; ++i) {
    if (i == largest) continue;
    const double unit = (sign * c[i] + bound) / (2 * bound);
    out[k++] = static_cast<std::int32_t>(std::clamp(std::nearbyint(unit * max), 0.0, max));
  }
  return out;
}

}  // namespace volley::bench::scene
