#include "volley/snapshot/schema.hpp"

#include <algorithm>

namespace volley::snapshot {

std::optional<std::uint16_t> Schema::add_type(std::span<const FieldWidth> fields) {
  if (fields.empty() || fields.size() > kMaxFieldsPerType || type_count() >= kMaxTypes)
    return std::nullopt;
  if (!std::all_of(fields.begin(), fields.end(), valid_width)) return std::nullopt;
  widths_.insert(widths_.end(), fields.begin(), fields.end());
  offsets_.push_back(static_cast<std::uint32_t>(widths_.size()));
  return static_cast<std::uint16_t>(type_count() - 1);
}

std::span<const FieldWidth> Schema::fields(std::uint16_t type) const noexcept {
  if (type >= type_count()) return {};
  return {widths_.data() + offsets_[type], widths_.data() + offsets_[type + 1]};
}

}  // namespace volley::snapshot
