// The game's entity types: each is a list of integer fields with a bit width and signedness,
// described exactly as in the replay format (n > 0: unsigned n bits, n < 0: signed |n| bits).
#pragma once

#include <cstddef>
#include <cstdint>
#include <optional>
#include <span>
#include <vector>

namespace volley::snapshot {

using FieldWidth = std::int8_t;

inline constexpr std::size_t kMaxFieldsPerType = 64;  // a change mask is at most 8 bytes
inline constexpr std::size_t kMaxTypes = 4096;

constexpr int field_bits(FieldWidth w) noexcept { return w < 0 ? -w : w; }
constexpr bool field_signed(FieldWidth w) noexcept { return w < 0; }
constexpr bool valid_width(FieldWidth w) noexcept { return w != 0 && w >= -32 && w <= 32; }

// True when `value` is representable in the field (unsigned 32-bit fields hold the bit pattern).
constexpr bool fits(FieldWidth w, std::int32_t value) noexcept {
  const int bits = field_bits(w);
  if (bits >= 32) return true;
  if (field_signed(w)) {
    const std::int64_t half = std::int64_t{1} << (bits - 1);
    return value >= -half && value < half;
  }
  return value >= 0 && static_cast<std::int64_t>(value) < (std::int64_t{1} << bits);
}

class Schema {
 public:
  // Returns the new type's id (0, 1, 2, ...), or nullopt when the list is empty, longer than
  // kMaxFieldsPerType, holds an invalid width, or there are already kMaxTypes types.
  std::optional<std::uint16_t> add_type(std::span<const FieldWidth> fields);
  std::size_t type_count() const noexcept { return offsets_.size() - 1; }
  std::span<const FieldWidth> fields(std::uint16_t type) const noexcept;
  // Index of the type's first field among the fields of all types (per-field coder state).
  std::size_t first_field(std::uint16_t type) const noexcept { return offsets_[type]; }
  std::size_t total_fields() const noexcept { return widths_.size(); }

 private:
  std::vector<FieldWidth> widths_;
  std::vector<std::uint32_t> offsets_{0};
};

}  // namespace volley::snapshot
