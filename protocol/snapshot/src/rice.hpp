// The entropy coder of the snapshot body's bit stream: adaptive Golomb-Rice codes. Each context
// (one per entity type and field, one for id gaps, ...) keeps a running mean of the values it
// coded in this packet; the Rice parameter k follows that mean, as in LOCO-I/JPEG-LS. Encoder and
// decoder update the context identically, so nothing about k is sent. A quotient of kEscape or
// more is sent as kEscape one-bits and the raw value, which bounds every code to
// kEscape + 32 bits and every decode loop to a constant.
#pragma once

#include <algorithm>
#include <bit>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <span>
#include <vector>

namespace volley::snapshot::detail {

inline constexpr int kEscape = 24;

constexpr std::uint32_t zigzag(std::int32_t v) noexcept {
  return (static_cast<std::uint32_t>(v) << 1) ^ static_cast<std::uint32_t>(v >> 31);
}
constexpr std::int32_t unzigzag(std::uint32_t z) noexcept {
  return static_cast<std::int32_t>((z >> 1) ^ (0u - (z & 1u)));
}

class RiceContext {
 public:
  // `mean`: the expected value, when the counts in the packet predict it (id gaps).
  explicit RiceContext(std::uint64_t mean = 2) noexcept : sum_(2 * mean) {}
  // The smallest k with count << k >= sum, at most 31. With sum in [2^(a-1), 2^a) and count in
  // [2^(b-1), 2^b), count << (a - b) lies in [2^(a-1), 2^a) too: k is a - b or a - b + 1.
  int k() const noexcept {
    const int k0 = std::bit_width(sum_) - std::bit_width(std::uint64_t{count_});
    if (k0 <= 0) return (k0 == 0 && std::uint64_t{count_} < sum_) ? 1 : 0;
    const int k = k0 + ((std::uint64_t{count_} << k0) < sum_ ? 1 : 0);
    return k > 31 ? 31 : k;
  }
  void update(std::uint32_t z) noexcept {
    sum_ += z;
    if (++count_ == kHalve) {
      sum_ >>= 1;
      count_ >>= 1;
    }
  }

 private:
  static constexpr std::uint32_t kHalve = 32;
  std::uint64_t sum_;
  std::uint32_t count_ = 2;
};

// Writes whole 64-bit words into a buffer sized up front for the packet's worst case (no
// per-byte capacity checks); the buffer keeps its size from packet to packet.
// After coding z with parameter k, how to nudge the next field's parameter of the same entity:
// an entity that moved far in one field usually moved far in the others.
inline int nudge(std::uint32_t z, int k) noexcept {
  if (k < 31 && (z >> (k + 1)) != 0) return 1;
  if (k > 0 && (z >> (k - 1)) == 0) return -1;
  return 0;
}

class BitWriter {
 public:
  explicit BitWriter(std::vector<std::uint8_t>& buffer, std::size_t max_bytes = 4096) : buf_(buffer) {
    if (buf_.size() < max_bytes + 16) buf_.resize(max_bytes + 16);
  }
  // bits <= 32
  void put(std::uint32_t value, int bits) noexcept {
    acc_ |= static_cast<std::uint64_t>(value) << fill_;
    fill_ += bits;
    if (fill_ >= 32) {
      const auto low = static_cast<std::uint32_t>(acc_);
      std::uint8_t* p = buf_.data() + pos_;
      p[0] = static_cast<std::uint8_t>(low);
      p[1] = static_cast<std::uint8_t>(low >> 8);
      p[2] = static_cast<std::uint8_t>(low >> 16);
      p[3] = static_cast<std::uint8_t>(low >> 24);
      pos_ += 4;
      acc_ >>= 32;
      fill_ -= 32;
    }
  }
  // z < 2^width (width 1..32).
  // `shift` nudges the context's parameter for this value only (see detail::nudge).
  void rice(RiceContext& ctx, std::uint32_t z, int width, int shift = 0) {
    const int k = std::clamp(ctx.k() + shift, 0, 31);
    const std::uint32_t q = k >= 32 ? 0 : (z >> k);
    if (q < static_cast<std::uint32_t>(kEscape)) {
      put((1u << q) - 1u, static_cast<int>(q) + 1);
      if (k > 0) put(z & ((k >= 32) ? ~0u : ((1u << k) - 1u)), k);
    } else {
      put((1u << kEscape) - 1u, kEscape);
      put(z, width);
    }
    ctx.update(z);
  }
  // Exp-Golomb (order 0) of v: for the few per-packet parameters whose scale is unknown.
  void universal(std::uint32_t v) {
    const std::uint64_t x = std::uint64_t{v} + 1;
    const int n = std::bit_width(x);  // 1..33
    const int ones = n - 1;
    if (ones >= 32) {
      put(~0u, 32);
      put(0, 1);
    } else {
      put((1u << ones) - 1u, ones + 1);
    }
    if (ones > 0) {
      const std::uint64_t low = x & ((std::uint64_t{1} << ones) - 1);
      if (ones > 16) {
        put(static_cast<std::uint32_t>(low & 0xFFFF), 16);
        put(static_cast<std::uint32_t>(low >> 16), ones - 16);
      } else {
        put(static_cast<std::uint32_t>(low), ones);
      }
    }
  }
  std::size_t bit_count() const noexcept { return pos_ * 8 + static_cast<std::size_t>(fill_); }
  // Flushes the last bits; returns the stream's length in bytes.
  std::size_t finish() noexcept {
    while (fill_ > 0) {
      buf_[pos_++] = static_cast<std::uint8_t>(acc_);
      acc_ >>= 8;
      fill_ = fill_ > 8 ? fill_ - 8 : 0;
    }
    return pos_;
  }

 private:
  std::vector<std::uint8_t>& buf_;
  std::size_t pos_ = 0;
  std::uint64_t acc_ = 0;
  int fill_ = 0;
};

// Reading past the end sets overrun() and yields zeros; callers check it once per entity.
class BitReader {
 public:
  explicit BitReader(std::span<const std::uint8_t> in) noexcept : in_(in) {}
  std::uint32_t get(int bits) noexcept {
    if (bits == 0) return 0;
    if (fill_ < bits) refill();
    if (fill_ < bits) {
      overrun_ = true;
      return 0;
    }
    const std::uint32_t v = static_cast<std::uint32_t>(acc_ & ((std::uint64_t{1} << bits) - 1));
    acc_ >>= bits;
    fill_ -= bits;
    return v;
  }
  // Returns false on overrun or when the value is not below 2^width.
  bool rice(RiceContext& ctx, int width, std::uint32_t& z, int shift = 0) noexcept {
    const int k = std::clamp(ctx.k() + shift, 0, 31);
    if (fill_ < kEscape + 1) refill();
    const int ones = std::countr_one(acc_);
    if (ones >= kEscape) {
      if (fill_ < kEscape) return overrun_ = true, false;
      acc_ >>= kEscape;
      fill_ -= kEscape;
      z = get(width);
    } else {
      if (ones >= fill_) return overrun_ = true, false;
      acc_ >>= ones + 1;
      fill_ -= ones + 1;
      const std::uint64_t v = (static_cast<std::uint64_t>(ones) << k) | get(k);
      if (v > 0xFFFFFFFFu) return false;
      z = static_cast<std::uint32_t>(v);
    }
    if (overrun_) return false;
    if (width < 32 && (z >> width) != 0) return false;
    ctx.update(z);
    return true;
  }
  bool universal(std::uint32_t& v) noexcept {
    int ones = 0;
    while (ones <= 32 && get(1) == 1u) ++ones;
    if (overrun_ || ones > 32) return false;
    std::uint64_t low = 0;
    if (ones > 16) {
      low = get(16);
      low |= std::uint64_t{get(ones - 16)} << 16;
    } else {
      low = get(ones);
    }
    const std::uint64_t x = (std::uint64_t{1} << ones) | low;
    if (overrun_ || x - 1 > 0xFFFFFFFFu) return false;
    v = static_cast<std::uint32_t>(x - 1);
    return true;
  }
  bool overrun() const noexcept { return overrun_; }
  // Bits not yet consumed (padding of the last byte included).
  std::size_t remaining_bits() const noexcept {
    return static_cast<std::size_t>(fill_) + (in_.size() - pos_) * 8;
  }

 private:
  void refill() noexcept {
    if (in_.size() - pos_ >= 8) {  // a whole word at once
      std::uint64_t word;
      std::memcpy(&word, in_.data() + pos_, 8);
      if constexpr (std::endian::native == std::endian::big) {
        std::uint64_t le = 0;
        for (int i = 0; i < 8; ++i) le |= ((word >> (8 * i)) & 0xFF) << (8 * (7 - i));
        word = le;
      }
      acc_ |= word << fill_;
      const int take = (63 - fill_) >> 3;
      pos_ += static_cast<std::size_t>(take);
      fill_ += take * 8;
      return;
    }
    while (fill_ <= 56 && pos_ < in_.size()) {
      acc_ |= static_cast<std::uint64_t>(in_[pos_++]) << fill_;
      fill_ += 8;
    }
  }
  std::span<const std::uint8_t> in_;
  std::size_t pos_ = 0;
  std::uint64_t acc_ = 0;
  int fill_ = 0;
  bool overrun_ = false;
};

}  // namespace volley::snapshot::detail
