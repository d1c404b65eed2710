// Each quantizer against the error bound its header states, over seeded random inputs.
#include <doctest/doctest.h>

#include <array>
#include <cmath>
#include <random>

#include "support/seed.hpp"
#include "volley/snapshot/quantize.hpp"

using namespace volley::snapshot;

TEST_CASE("quantize_range round trip stays within half a step") {
  VOLLEY_SEEDED_RNG(rng, 1);
  std::uniform_real_distribution<float> u(-100.0f, 250.0f);
  for (int bits : {1, 4, 9, 16, 24}) {
    const double bound = 350.0 / static_cast<double>((1LL << bits) - 1) / 2 + 1e-4 * 350;
    for (int i = 0; i < 2000; ++i) {
      const float v = u(rng);
      const std::int32_t q = quantize_range(v, -100.0f, 250.0f, bits);
      CHECK(fits(static_cast<FieldWidth>(bits), q));
      CHECK(std::fabs(dequantize_range(q, -100.0f, 250.0f, bits) - v) <= bound);
    }
  }
  CHECK(quantize_range(-1000.0f, -100.0f, 250.0f, 8) == 0);  // clamped
  CHECK(quantize_range(1000.0f, -100.0f, 250.0f, 8) == 255);
}

TEST_CASE("quantize_position: error <= precision / 2, width covers the range") {
  VOLLEY_SEEDED_RNG(rng, 2);
  const float precision = 1.0f / 512, range = 32.0f;
  const FieldWidth w = position_width(precision, range);
  CHECK(w == -16);  // +16384 steps does not fit in 15 signed bits
  std::uniform_real_distribution<float> u(-range + precision, range - precision);
  for (int i = 0; i < 5000; ++i) {
    const float v = u(rng);
    const std::int32_t q = quantize_position(v, precision, range);
    CHECK(fits(w, q));
    CHECK(std::fabs(dequantize_position(q, precision) - v) <= precision / 2 + 1e-5f);
  }
  CHECK(fits(w, quantize_position(1e6f, precision, range)));
  CHECK(fits(w, quantize_position(-1e6f, precision, range)));
}

// What a game may hand in by mistake: NaN, and values past what 32 bits hold. Each lands inside
// the field's width (it gave INT32_MIN, which the encoder refused: the whole tick lost).
TEST_CASE("quantize_position and quantize_range: NaN and huge values stay within the field") {
  const float nan = std::nanf("");
  const FieldWidth w = position_width(0.01f, 1000.0f);
  const std::int32_t limit = (std::int32_t{1} << (-w - 1)) - 1;
  CHECK(quantize_position(nan, 0.01f, 1000.0f) == 0);
  CHECK(quantize_position(1e30f, 0.01f, 1000.0f) == 100000);
  CHECK(quantize_position(-1e30f, 0.01f, 1000.0f) == -100000);
  CHECK(100000 <= limit);
  // A range wider than 32 bits: clamped at the 32-bit limit, the sign kept.
  CHECK(position_width(0.001f, 1e7f) == -32);
  CHECK(quantize_position(2.2e6f, 0.001f, 1e7f) == 2147483647);
  CHECK(quantize_position(-2.2e6f, 0.001f, 1e7f) == -2147483647);
  CHECK(quantize_range(nan, 0.0f, 1.0f, 8) == 0);
  CHECK(quantize_range(2.0f, 0.0f, 1.0f, 32) == static_cast<std::int32_t>(0xFFFFFFFFu));
}

TEST_CASE("quantize_angle wraps and stays within pi / 2^bits") {
  VOLLEY_SEEDED_RNG(rng, 3);
  std::uniform_real_distribution<float> u(-20.0f, 20.0f);
  constexpr double kPi = 3.14159265358979323846;
  for (int bits : {6, 10, 16}) {
    for (int i = 0; i < 2000; ++i) {
      const float a = u(rng);
      const std::int32_t q = quantize_angle(a, bits);
      CHECK(fits(static_cast<FieldWidth>(bits), q));
      double d = std::fmod(static_cast<double>(dequantize_angle(q, bits)) - a, 2 * kPi);
      if (d > kPi) d -= 2 * kPi;
      if (d < -kPi) d += 2 * kPi;
      CHECK(std::fabs(d) <= kPi / (1 << bits) + 1e-5);
    }
  }
}

TEST_CASE("quantize_velocity: zero exact, error bound, symmetric range") {
  VOLLEY_SEEDED_RNG(rng, 4);
  std::uniform_real_distribution<float> u(-30.0f, 30.0f);
  CHECK(quantize_velocity(0.0f, 30.0f, 12) == 0);
  const double bound = 30.0 / ((1 << 11) - 1) / 2 + 1e-5;
  for (int i = 0; i < 2000; ++i) {
    const float v = u(rng);
    const std::int32_t q = quantize_velocity(v, 30.0f, 12);
    CHECK(fits(-12, q));
    CHECK(std::fabs(dequantize_velocity(q, 30.0f, 12) - v) <= bound);
  }
  CHECK(quantize_velocity(-1e9f, 30.0f, 12) == -2047);
}

TEST_CASE("booleans") {
  CHECK(dequantize_bool(quantize_bool(true)));
  CHECK_FALSE(dequantize_bool(quantize_bool(false)));
}

TEST_CASE("smallest-three quaternion: components within the stated bound, sign-invariant") {
  VOLLEY_SEEDED_RNG(rng, 5);
  std::normal_distribution<float> n(0, 1);
  for (int bits : {9, 12, 16}) {
    const double bound = std::sqrt(2.0) / ((1 << bits) - 1) / 2 + 1e-5;
    const auto widths = quaternion_widths(bits);
    for (int i = 0; i < 2000; ++i) {
      Quaternion q{n(rng), n(rng), n(rng), n(rng)};
      const float len = std::sqrt(q.x * q.x + q.y * q.y + q.z * q.z + q.w * q.w);
      q = {q.x / len, q.y / len, q.z / len, q.w / len};
      const auto fields = quantize_quaternion(q, bits);
      for (int k = 0; k < 4; ++k) CHECK(fits(widths[k], fields[k]));
      const Quaternion r = dequantize_quaternion(fields, bits);
      // q and -q are one rotation: compare with the sign that makes the largest positive.
      const float c[4] = {q.x, q.y, q.z, q.w};
      const float s = c[fields[0]] < 0 ? -1.0f : 1.0f;
      const float rc[4] = {r.x, r.y, r.z, r.w};
      for (int k = 0; k < 4; ++k) {
        if (k == fields[0]) continue;
        CHECK(std::fabs(rc[k] - s * c[k]) <= bound);
      }
      // The rebuilt largest component: its error follows from the others' (|dl| <= 3 * bound
      // * max|c| / l with l >= 1/2), loose but stated.
      CHECK(std::fabs(rc[fields[0]] - s * c[fields[0]]) <= 6 * bound + 1e-4);
      CHECK(std::fabs(r.x * r.x + r.y * r.y + r.z * r.z + r.w * r.w - 1.0f) < 1e-4f);
    }
  }
}

// A remote sender chooses the three small components freely: squares summing past 1 must give a
// largest component of 0, not the NaN of a negative square root.
TEST_CASE("smallest-three quaternion: components whose squares pass 1 decode to finite values") {
  const int bits = 10;
  const std::int32_t top = (1 << bits) - 1;  // each +1/sqrt(2): squares sum to 1.5
  const std::array<std::int32_t, 4> fields = {0, top, top, top};
  const Quaternion r = dequantize_quaternion(fields, bits);
  CHECK(r.x == 0.0f);
  CHECK(std::isfinite(r.y));
  CHECK(std::isfinite(r.z));
  CHECK(std::isfinite(r.w));
}
