// One world frame: a frame number and entities (id, type, quantized field values), ids strictly
// increasing. Stored as flat arrays so that clear() + add() reuse memory from frame to frame.
#pragma once

#include <cstddef>
#include <cstdint>
#include <span>
#include <vector>

namespace volley::snapshot {

class Frame {
 public:
  std::uint32_t number = 0;

  void clear() noexcept;
  void reserve(std::size_t entities, std::size_t values);
  // Appends an entity. Ids must be strictly increasing within a frame and values.size() must be
  // the type's field count; the encoder rejects frames that break either rule.
  void add(std::uint32_t id, std::uint16_t type, std::span<const std::int32_t> values);
  // Appends an entity with `count` values left for the caller to fill (same rules as add()).
  std::span<std::int32_t> emplace(std::uint32_t id, std::uint16_t type, std::size_t count);
  // Appends entities [first, first + count) of `from` (their ids must stay increasing here).
  void append(const Frame& from, std::size_t first, std::size_t count);
  std::size_t size() const noexcept { return ids_.size(); }
  bool empty() const noexcept { return ids_.empty(); }
  std::uint32_t id(std::size_t i) const noexcept { return ids_[i]; }
  std::uint16_t type(std::size_t i) const noexcept { return types_[i]; }
  std::span<const std::int32_t> values(std::size_t i) const noexcept {
    return {values_.data() + starts_[i], values_.data() + starts_[i + 1]};
  }
  // The flat arrays (ids, types, every entity's values back to back), for hashing and copying.
  std::span<const std::uint32_t> ids() const noexcept { return ids_; }
  std::span<const std::uint16_t> types() const noexcept { return types_; }
  std::span<const std::int32_t> all_values() const noexcept { return values_; }
  // Index of entity `id`, or size() when absent (binary search).
  std::size_t find(std::uint32_t id) const noexcept;
  bool operator==(const Frame&) const = default;  // same number, entities, types and values

 private:
  std::vector<std::uint32_t> ids_;
  std::vector<std::uint16_t> types_;
  std::vector<std::uint32_t> starts_{0};
  std::vector<std::int32_t> values_;
};

}  // namespace volley::snapshot
