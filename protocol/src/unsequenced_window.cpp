// Unsequenced duplicate window; see unsequenced_window.hpp.
#include "unsequenced_window.hpp"

namespace volley::protocol::detail {

UnsequencedWindow::Verdict UnsequencedWindow::admit(std::uint16_t received) {
  std::uint32_t group = received;
  const std::uint32_t index = group % kUnsequencedWindowSize;
  if (group < base_) group += 0x10000;
  if (group >= std::uint32_t{base_} + kFreeUnsequencedWindows * kUnsequencedWindowSize) return Verdict::kOld;
  group &= 0xFFFF;
  if (!bits_) bits_ = std::make_unique<Bits>();  // value-initialised: all zero, as after a reset
  if (group - index != base_) {
    base_ = static_cast<std::uint16_t>(group - index);
    *bits_ = {};
    return Verdict::kNew;
  }
  const std::uint32_t bit = 1u << (index % 32);
  return ((*bits_)[index / 32] & bit) != 0 ? Verdict::kDuplicate : Verdict::kNew;
}

void UnsequencedWindow::mark(std::uint16_t group) noexcept {
  if (!bits_) return;  // only after admit(), which allocates
  const std::uint32_t index = group % kUnsequencedWindowSize;
  (*bits_)[index / 32] |= 1u << (index % 32);
}

void UnsequencedWindow::reset() noexcept {
  base_ = 0;
  bits_.reset();
}

}  // namespace volley::protocol::detail
