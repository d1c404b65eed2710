// One recorded world frame of a single entity type, as the replay format stores it: a frame
// number, entity ids strictly increasing, and F quantized values per entity (row-major).
// The scene generators produce it and the replay reader/writer move it to and from files; the
// bench converts it into the codec's snapshot::Frame.
#pragma once

#include <cstddef>
#include <cstdint>
#include <span>
#include <vector>

namespace volley::bench {

using FieldWidth = std::int8_t;  // n > 0: unsigned n bits; n < 0: signed |n| bits; 1 <= |n| <= 32

struct RecordedFrame {
  std::uint32_t number = 0;
  std::vector<std::uint32_t> ids;
  std::vector<std::int32_t> values;  // ids.size() * field count

  std::size_t size() const { return ids.size(); }
  std::span<const std::int32_t> entity(std::size_t i, std::size_t fields) const {
    return std::span<const std::int32_t>(values).subspan(i * fields, fields);
  }
  bool operator==(const RecordedFrame&) const = default;
};

// True when `value` fits the field (unsigned 32 bits: any bit pattern, stored as int32).
constexpr bool fits_width(FieldWidth width, std::int32_t value) {
  if (width > 0) {
    if (width >= 32) return true;
    return value >= 0 && static_cast<std::int64_t>(value) < (std::int64_t{1} << width);
  }
  const int bits = -width;
  const std::int64_t half = std::int64_t{1} << (bits - 1);
  return value >= -half && value < half;
}

constexpr bool valid_width(FieldWidth width) { return width != 0 && width >= -32 && width <= 32; }

}  // namespace volley::bench
