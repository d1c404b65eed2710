// The per-packet model shared by encoder and decoder for changed entities of one type:
// - adaptive odds for each field's "changed" bit, given whether the previous field changed
//   (range-coded in the flags column: a typical mask costs well under a bit per field);
// - per field, the starting Rice parameter of its residuals (so the first residuals of a packet
//   do not pay for the context's learning), and an optional linear predictor, fitted by the encoder over this packet's changed
//   entities and sent once per type: next[i] ~ base[i] + a + c * base[j] / 4096. It uses the
//   baseline's own values only (e.g. a velocity field predicting a position field), so a
//   receiver that lost every other packet still decodes.
#pragma once

#include <array>
#include <cstdint>
#include <span>

#include "range_bits.hpp"
#include "rice.hpp"
#include "volley/snapshot/schema.hpp"

namespace volley::snapshot::detail {

inline constexpr int kPredictorShift = 12;

struct Predictor {
  bool used = false;
  std::uint8_t source = 0;  // field j of the baseline entity
  std::uint8_t k0 = 1;      // the residual context's starting Rice parameter (sent per packet)
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
  void reset(std::uint32_t packet) noexcept { epoch = packet; }
};

// Per field of every type: the odds that it changed, given the previous field's bit.
struct FieldFlags {
  BitModel changed[2];
};

// The changed flags' context: whether the baseline entity's hint field is non-zero.
inline constexpr std::uint32_t kNoHint = 0xFFFFFFFFu;
inline bool hinted(std::span<const std::int32_t> base, std::uint32_t hint) noexcept {
  return hint < base.size() && base[hint] != 0;
}

inline constexpr std::uint32_t zz(std::int32_t v) noexcept { return zigzag(v); }

}  // namespace volley::snapshot::detail
