// One recorded world frame of a single entity type, as the replay format stores it: a frame
// number, entity ids strictly increasing, and F quantized values per entity (row-major).
// The scene generators produce it and the replay reader/writer move it to and from files; the
// bench converts it into the codec's snapshot::Frame.
#pragma once

#include <cstddef>
#include <cstdint>
#include <span>
#include <vector>

#include <volley/snapshot/schema.hpp>

namespace volley::demo {

// n > 0: unsigned n bits; n < 0: signed |n| bits; 1 <= |n| <= 32 (the codec's own definition).
using snapshot::FieldWidth;

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

}  // namespace volley::demo
