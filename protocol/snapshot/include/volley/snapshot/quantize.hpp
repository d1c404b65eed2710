// Helpers that turn the usual game quantities into integer fields and back. Each states its
// worst-case reconstruction error for inputs inside its range (tests/snapshot checks them);
// inputs outside the range are clamped.
#pragma once

#include <array>
#include <cstdint>
#include <span>

#include "volley/snapshot/schema.hpp"

namespace volley::snapshot {

// v in [min, max] -> unsigned `bits`-bit integer (1..31). Error <= (max - min) / (2^bits - 1) / 2.
std::int32_t quantize_range(float v, float min, float max, int bits) noexcept;
float dequantize_range(std::int32_t q, float min, float max, int bits) noexcept;

// Position as round(v / precision), clamped to +-range: a signed field of
// position_width(precision, range). Error <= precision / 2 inside the range.
std::int32_t quantize_position(float v, float precision, float range) noexcept;
float dequantize_position(std::int32_t q, float precision) noexcept;
FieldWidth position_width(float precision, float range) noexcept;

// Angle in radians, wrapped into [0, 2*pi), as an unsigned `bits`-bit field (1..31).
// Error (on the circle) <= pi / 2^bits. Dequantizes into [0, 2*pi).
std::int32_t quantize_angle(float radians, int bits) noexcept;
float dequantize_angle(std::int32_t q, int bits) noexcept;

// Velocity in [-max, max] as a signed `bits`-bit field (2..31), zero exactly representable.
// Error <= max / (2^(bits-1) - 1) / 2.
std::int32_t quantize_velocity(float v, float max, int bits) noexcept;
float dequantize_velocity(std::int32_t q, float max, int bits) noexcept;

// Booleans: an unsigned 1-bit field.
constexpr std::int32_t quantize_bool(bool b) noexcept { return b ? 1 : 0; }
constexpr bool dequantize_bool(std::int32_t q) noexcept { return q != 0; }

// "Smallest three": a unit quaternion as the index of its largest component (unsigned 2 bits)
// and the other three, each in [-1/sqrt2, 1/sqrt2], as unsigned `bits`-bit fields (2..31). The
// sign is chosen so the largest component is positive (q and -q are the same rotation).
// Error per component <= sqrt(2) / (2^bits - 1) / 2 for the three sent ones.
struct Quaternion {
  float x = 0, y = 0, z = 0, w = 1;
};
std::array<std::int32_t, 4> quantize_quaternion(Quaternion q, int bits) noexcept;
Quaternion dequantize_quaternion(std::span<const std::int32_t, 4> fields, int bits) noexcept;
// The field widths of a smallest-three quaternion: {2, bits, bits, bits}.
std::array<FieldWidth, 4> quaternion_widths(int bits) noexcept;

}  // namespace volley::snapshot
