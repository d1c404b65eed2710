// The fixed packet header (16 bytes, little-endian) and the per-field residual arithmetic shared
// by the encoder and the decoder.
//   0  'V' 'S'   magic
//   2  u8        version (kWireVersion)
//   3  u8        flags (kFlagDelta, kFlagDictionary)
//   4  u32       frame number
//   8  u32       baseline frame number (0 unless kFlagDelta)
//  12  u32       state_checksum of the reconstructed frame and the events
//  16  ...       one zstd frame (content size always present) holding the FlatBuffer body
#pragma once

#include <cstdint>
#include <span>

#include "volley/snapshot/codec.hpp"

namespace volley::snapshot::detail {

inline constexpr std::uint8_t kMagic0 = 'V';
inline constexpr std::uint8_t kMagic1 = 'S';
inline constexpr std::uint8_t kKnownFlags = kFlagDelta | kFlagDictionary;

inline void put_u32(std::uint8_t* p, std::uint32_t v) noexcept {
  p[0] = static_cast<std::uint8_t>(v);
  p[1] = static_cast<std::uint8_t>(v >> 8);
  p[2] = static_cast<std::uint8_t>(v >> 16);
  p[3] = static_cast<std::uint8_t>(v >> 24);
}
inline std::uint32_t get_u32(const std::uint8_t* p) noexcept {
  return std::uint32_t{p[0]} | (std::uint32_t{p[1]} << 8) | (std::uint32_t{p[2]} << 16) |
         (std::uint32_t{p[3]} << 24);
}

inline void write_header(std::uint8_t* p, const Header& h) noexcept {
  p[0] = kMagic0;
  p[1] = kMagic1;
  p[2] = kWireVersion;
  p[3] = h.flags;
  put_u32(p + 4, h.frame);
  put_u32(p + 8, h.baseline);
  put_u32(p + 12, h.checksum);
}

inline Header read_header(const std::uint8_t* p) noexcept {
  return {get_u32(p + 4), get_u32(p + 8), p[3], get_u32(p + 12)};
}

inline std::uint32_t width_mask(int bits) noexcept {
  return bits >= 32 ? ~0u : ((1u << bits) - 1u);
}

// next - base modulo 2^bits, as a signed residual of `bits` bits, zig-zagged: always < 2^bits.
inline std::uint32_t residual(std::int32_t next, std::int32_t base, int bits) noexcept {
  const std::uint32_t m = width_mask(bits);
  const std::uint32_t d = (static_cast<std::uint32_t>(next) - static_cast<std::uint32_t>(base)) & m;
  const std::uint32_t sign = d >> (bits - 1) & 1u;
  // zig-zag within `bits` bits: 0, -1, 1, -2, ... -> 0, 1, 2, 3, ...
  return sign ? ((((~d) & m) << 1) | 1u) : (d << 1);
}

// Inverse of residual(): the field value (sign-extended for signed fields).
inline std::int32_t apply_residual(std::int32_t base, std::uint32_t z, FieldWidth width) noexcept {
  const int bits = field_bits(width);
  const std::uint32_t m = width_mask(bits);
  const std::uint32_t mag = z >> 1;
  const std::uint32_t d = (z & 1u) ? ((~mag) & m) : mag;  // -1 - mag, modulo 2^bits
  std::uint32_t v = (static_cast<std::uint32_t>(base) + d) & m;
  if (field_signed(width) && bits < 32 && ((v >> (bits - 1)) & 1u)) v |= ~m;
  return static_cast<std::int32_t>(v);
}

// A created entity's value, coded on its own: zig-zag for signed fields, the bits for unsigned.
inline std::uint32_t value_code(std::int32_t v, FieldWidth width) noexcept {
  if (!field_signed(width)) return static_cast<std::uint32_t>(v);
  return (static_cast<std::uint32_t>(v) << 1) ^ static_cast<std::uint32_t>(v >> 31);
}
inline std::int32_t value_from_code(std::uint32_t z, FieldWidth width) noexcept {
  if (!field_signed(width)) return static_cast<std::int32_t>(z);
  return static_cast<std::int32_t>((z >> 1) ^ (0u - (z & 1u)));
}

}  // namespace volley::snapshot::detail
