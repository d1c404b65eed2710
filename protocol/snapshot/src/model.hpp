// The per-packet model shared by encoder and decoder for changed entities of one type:
// - a move-to-front list of that type's recent change masks (moving entities mostly change the
//   same fields, so a mask usually costs one or two bits);
// - an optional linear predictor per field, fitted by the encoder over this packet's changed
//   entities and sent once per type: next[i] ~ base[i] + a + c * base[j] / 4096. It uses the
//   baseline's own values only (e.g. a velocity field predicting a position field), so a
//   receiver that lost every other packet still decodes.
#pragma once

#include <array>
#include <cstdint>

#include "rice.hpp"
#include "volley/snapshot/schema.hpp"

namespace volley::snapshot::detail {

inline constexpr std::size_t kMaskHistory = 8;
inline constexpr int kPredictorShift = 12;

struct Predictor {
  bool used = false;
  std::uint8_t source = 0;  // field j of the baseline entity
  std::int32_t a = 0, c = 0;
  // The value field i is predicted to have, given the baseline entity's values.
  std::uint32_t target(std::int32_t base_i, const std::int32_t* base) const noexcept {
    if (!used) return static_cast<std::uint32_t>(base_i);
    const std::int64_t p = std::int64_t{a} + ((std::int64_t{c} * base[source] + (1 << (kPredictorShift - 1))) >> kPredictorShift);
    return static_cast<std::uint32_t>(base_i) + static_cast<std::uint32_t>(p);
  }
};

struct TypeModel {
  std::uint32_t epoch = 0;  // the packet this state belongs to; stale state is reset lazily
  std::uint32_t recent_size = 0;
  std::array<std::uint64_t, kMaskHistory> recent{};
  RiceContext mask_index;

  void reset(std::uint32_t packet) noexcept {
    epoch = packet;
    recent_size = 0;
    mask_index = RiceContext(1);
  }
  // Index of `mask` in the list, or recent_size when absent.
  std::uint32_t find(std::uint64_t mask) const noexcept {
    std::uint32_t i = 0;
    while (i < recent_size && recent[i] != mask) ++i;
    return i;
  }
  void to_front(std::uint32_t i, std::uint64_t mask) noexcept {
    if (i == recent_size && recent_size < kMaskHistory) ++recent_size;
    if (i >= recent_size) i = recent_size - 1;
    for (; i > 0; --i) recent[i] = recent[i - 1];
    recent[0] = mask;
  }
};

inline constexpr std::uint32_t zz(std::int32_t v) noexcept { return zigzag(v); }

}  // namespace volley::snapshot::detail
