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

std::size_t Frame::find(std::uint32_t id) const noexcept {
  const auto it = std::lower_bound(ids_.begin(), ids_.end(), id);
  return (it != ids_.end() && *it == id) ? static_cast<std::size_t>(it - ids_.begin()) : size();
}

}  // namespace volley::snapshot
