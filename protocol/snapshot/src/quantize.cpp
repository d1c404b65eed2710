#include "volley/snapshot/quantize.hpp"

#include <algorithm>
#include <cmath>

namespace volley::snapshot {
namespace {

constexpr float kTwoPi = 6.28318530717958647692f;
constexpr float kInvSqrt2 = 0.70710678118654752440f;

std::int64_t max_unsigned(int bits) { return (std::int64_t{1} << bits) - 1; }

}  // namespace

std::int32_t quantize_range(float v, float min, float max, int bits) noexcept {
  const double steps = static_cast<double>(max_unsigned(bits));
  const double x = (static_cast<double>(v) - min) / (static_cast<double>(max) - min);
  const double t = std::isnan(x) ? 0.0 : std::clamp(x, 0.0, 1.0);  // NaN: the range's start
  return static_cast<std::int32_t>(static_cast<std::uint32_t>(std::llround(t * steps)));
}

float dequantize_range(std::int32_t q, float min, float max, int bits) noexcept {
  const double steps = static_cast<double>(max_unsigned(bits));
  return static_cast<float>(min + (static_cast<double>(max) - min) * (q / steps));
}

std::int32_t quantize_position(float v, float precision, float range) noexcept {
  // Clamped to the range and to what 32 signed bits hold (position_width stops there), and NaN
  // is 0: a cast of anything outside int32 was undefined and gave INT32_MIN, which the encoder
  // refused, losing the whole tick for every client.
  const double limit = std::min(std::floor(static_cast<double>(range) / precision), 2147483647.0);
  const double q = std::round(static_cast<double>(v) / precision);
  return std::isnan(q) ? 0 : static_cast<std::int32_t>(std::clamp(q, -limit, limit));
}

float dequantize_position(std::int32_t q, float precision) noexcept {
  return static_cast<float>(static_cast<double>(q) * precision);
}

FieldWidth position_width(float precision, float range) noexcept {
  const auto limit = static_cast<std::int64_t>(std::floor(static_cast<double>(range) / precision));
  int bits = 1;  // the sign bit
  while (bits < 32 && (std::int64_t{1} << (bits - 1)) <= limit) ++bits;
  return static_cast<FieldWidth>(-bits);
}

std::int32_t quantize_angle(float radians, int bits) noexcept {
  const double steps = static_cast<double>(std::int64_t{1} << bits);
  double turns = static_cast<double>(radians) / kTwoPi;
  turns -= std::floor(turns);
  auto q = static_cast<std::int64_t>(std::llround(turns * steps));
  if (q >= static_cast<std::int64_t>(steps)) q = 0;  // 2*pi wraps to 0
  return static_cast<std::int32_t>(q);
}

float dequantize_angle(std::int32_t q, int bits) noexcept {
  const double steps = static_cast<double>(std::int64_t{1} << bits);
  return static_cast<float>(q / steps * kTwoPi);
}

std::int32_t quantize_velocity(float v, float max, int bits) noexcept {
  const double steps = static_cast<double>((std::int64_t{1} << (bits - 1)) - 1);
  const double t = std::clamp(static_cast<double>(v) / max, -1.0, 1.0);
  return static_cast<std::int32_t>(std::llround(t * steps));
}

float dequantize_velocity(std::int32_t q, float max, int bits) noexcept {
  const double steps = static_cast<double>((std::int64_t{1} << (bits - 1)) - 1);
  return static_cast<float>(q / steps * max);
}

std::array<std::int32_t, 4> quantize_quaternion(Quaternion q, int bits) noexcept {
  const float c[4] = {q.x, q.y, q.z, q.w};
  int largest = 0;
  for (int i = 1; i < 4; ++i)
    if (std::fabs(c[i]) > std::fabs(c[largest])) largest = i;
  const float sign = c[largest] < 0 ? -1.0f : 1.0f;
  std::array<std::int32_t, 4> out{largest, 0, 0, 0};
  int k = 1;
  for (int i = 0; i < 4; ++i)
    if (i != largest) out[k++] = quantize_range(sign * c[i], -kInvSqrt2, kInvSqrt2, bits);
  return out;
}

Quaternion dequantize_quaternion(std::span<const std::int32_t, 4> fields, int bits) noexcept {
  const int largest = fields[0] & 3;
  float c[4];
  float sum = 0;
  int k = 1;
  for (int i = 0; i < 4; ++i) {
    if (i == largest) continue;
    c[i] = dequantize_range(fields[k++], -kInvSqrt2, kInvSqrt2, bits);
    sum += c[i] * c[i];
  }
  c[largest] = std::sqrt(std::max(0.0f, 1.0f - sum));
  return {c[0], c[1], c[2], c[3]};
}

std::array<FieldWidth, 4> quaternion_widths(int bits) noexcept {
  const auto b = static_cast<FieldWidth>(bits);
  return {2, b, b, b};
}

}  // namespace volley::snapshot
