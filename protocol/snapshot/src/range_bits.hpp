// A binary adaptive range coder for the flags column (which baseline entities changed, and which
// fields of each): decisions with skewed, context-dependent odds that a Rice code cannot go below
// one bit for. The classic carry-propagating design (32-bit range, 11-bit probabilities shifted
// by 1/32 towards each coded bit), written for this codec. The first output byte of this design is
// always zero, so it is not sent.
#pragma once

#include <cstddef>
#include <cstdint>
#include <span>
#include <vector>

namespace volley::snapshot::detail {

class BitModel {
 public:
  static constexpr std::uint32_t kBits = 11;
  static constexpr std::uint32_t kOne = 1u << kBits;
  static constexpr int kShift = 3;
  std::uint32_t p = kOne / 2;  // probability of a 0, in 1/2048
  void update(bool bit) noexcept {
    if (bit) p -= p >> kShift;
    else p += (kOne - p) >> kShift;
  }
};

class RangeWriter {
 public:
  explicit RangeWriter(std::vector<std::uint8_t>& out) noexcept : out_(out) { out_.clear(); }
  void bit(BitModel& m, bool b) {
    const std::uint32_t bound = (range_ >> BitModel::kBits) * m.p;
    if (!b) {
      range_ = bound;
    } else {
      low_ += bound;
      range_ -= bound;
    }
    m.update(b);
    while (range_ < (1u << 24)) {
      range_ <<= 8;
      shift_low();
    }
  }
  void finish() {
    for (int i = 0; i < 5; ++i) shift_low();
  }

 private:
  void shift_low() {
    if (static_cast<std::uint32_t>(low_) < 0xFF000000u || (low_ >> 32) != 0) {
      const auto carry = static_cast<std::uint8_t>(low_ >> 32);
      std::uint8_t pending = cache_;
      do {
        emit(static_cast<std::uint8_t>(pending + carry));
        pending = 0xFF;
      } while (--cache_size_ != 0);
      cache_ = static_cast<std::uint8_t>(low_ >> 24);
    }
    ++cache_size_;
    low_ = (low_ & 0x00FFFFFFu) << 8;
  }
  void emit(std::uint8_t b) {
    if (first_) {
      first_ = false;  // always zero: implied
      return;
    }
    out_.push_back(b);
  }
  std::vector<std::uint8_t>& out_;
  std::uint64_t low_ = 0;
  std::uint32_t range_ = 0xFFFFFFFFu;
  std::uint8_t cache_ = 0;
  std::uint64_t cache_size_ = 1;
  bool first_ = true;
};

// Reading past the end yields zero bytes and marks overrun(); the caller's counts bound the work.
class RangeReader {
 public:
  explicit RangeReader(std::span<const std::uint8_t> in) noexcept : in_(in) {
    for (int i = 0; i < 4; ++i) code_ = (code_ << 8) | next();
  }
  bool bit(BitModel& m) noexcept {
    const std::uint32_t bound = (range_ >> BitModel::kBits) * m.p;
    bool b;
    if (code_ < bound) {
      range_ = bound;
      b = false;
    } else {
      code_ -= bound;
      range_ -= bound;
      b = true;
    }
    m.update(b);
    while (range_ < (1u << 24)) {
      range_ <<= 8;
      code_ = (code_ << 8) | next();
    }
    return b;
  }
  bool overrun() const noexcept { return overrun_; }
  std::size_t remaining() const noexcept { return in_.size() - pos_; }

 private:
  std::uint32_t next() noexcept {
    if (pos_ < in_.size()) return in_[pos_++];
    overrun_ = true;
    return 0;
  }
  std::span<const std::uint8_t> in_;
  std::size_t pos_ = 0;
  std::uint32_t code_ = 0;
  std::uint32_t range_ = 0xFFFFFFFFu;
  bool overrun_ = false;
};

}  // namespace volley::snapshot::detail
