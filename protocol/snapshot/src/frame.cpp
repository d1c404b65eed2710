#include "volley/snapshot/frame.hpp"

#include <algorithm>

namespace volley::snapshot {

void Frame::clear() noexcept {
  ids_.clear();
  types_.clear();
  starts_.resize(1);
  values_.clear();
}

void Frame::reserve(std::size_t entities, std::size_t values) {
  ids_.reserve(entities);
  types_.reserve(entities);
  starts_.reserve(entities + 1);
  values_.reserve(values);
}

void Frame::add(std::uint32_t id, std::uint16_t type, std::span<const std::int32_t> values) {
  ids_.push_back(id);
  types_.push_back(type);
  values_.insert(values_.end(), values.begin(), values.end());
  starts_.push_back(static_cast<std::uint32_t>(values_.size()));
}

std::span<std::int32_t> Frame::emplace(std::uint32_t id, std::uint16_t type, std::size_t count) {
  ids_.push_back(id);
  types_.push_back(type);
  const std::size_t start = values_.size();
  values_.resize(start + count);
  starts_.push_back(static_cast<std::uint32_t>(values_.size()));
  return {values_.data() + start, count};
}

void Frame::append(const Frame& from, std::size_t first, std::size_t count) {
  if (count == 0) return;
  ids_.insert(ids_.end(), from.ids_.begin() + static_cast<std::ptrdiff_t>(first),
              from.ids_.begin() + static_cast<std::ptrdiff_t>(first + count));
  types_.insert(types_.end(), from.types_.begin() + static_cast<std::ptrdiff_t>(first),
                from.types_.begin() + static_cast<std::ptrdiff_t>(first + count));
  const std::uint32_t from_start = from.starts_[first];
  const auto shift = static_cast<std::uint32_t>(values_.size()) - from_start;  // modulo 2^32
  for (std::size_t i = first + 1; i <= first + count; ++i) starts_.push_back(from.starts_[i] + shift);
  values_.insert(values_.end(), from.values_.begin() + from_start,
                 from.values_.begin() + from.starts_[first + count]);
}

std::size_t Frame::find(std::uint32_t id) const noexcept {
  const auto it = std::lower_bound(ids_.begin(), ids_.end(), id);
  return (it != ids_.end() && *it == id) ? static_cast<std::size_t>(it - ids_.begin()) : size();
}

}  // namespace volley::snapshot
