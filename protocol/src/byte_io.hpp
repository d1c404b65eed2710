// Bounds-checked big-endian reading and writing over caller-owned spans. Untrusted bytes become
// values here, field by field: nothing is ever cast over a buffer (alignment and aliasing stay
// defined), and a short buffer fails softly instead of reading past the end.
#pragma once

#include <cstddef>
#include <cstdint>
#include <cstring>
#include <span>

namespace volley::protocol::detail {

class Reader {
 public:
  explicit Reader(std::span<const std::uint8_t> bytes) noexcept : bytes_(bytes) {}

  std::size_t remaining() const noexcept { return bytes_.size() - pos_; }
  std::size_t position() const noexcept { return pos_; }
  bool ok() const noexcept { return ok_; }

  std::uint8_t u8() noexcept {
    if (!need(1)) return 0;
    return bytes_[pos_++];
  }
  std::uint16_t u16() noexcept {
    if (!need(2)) return 0;
    const auto v = static_cast<std::uint16_t>((bytes_[pos_] << 8) | bytes_[pos_ + 1]);
    pos_ += 2;
    return v;
  }
  std::uint32_t u32() noexcept {
    if (!need(4)) return 0;
    const std::uint32_t v = (std::uint32_t{bytes_[pos_]} << 24) | (std::uint32_t{bytes_[pos_ + 1]} << 16) |
                            (std::uint32_t{bytes_[pos_ + 2]} << 8) | std::uint32_t{bytes_[pos_ + 3]};
    pos_ += 4;
    return v;
  }
  // A view of the next n bytes; empty (and ok() false) if fewer remain.
  std::span<const std::uint8_t> bytes(std::size_t n) noexcept {
    if (!need(n)) return {};
    auto view = bytes_.subspan(pos_, n);
    pos_ += n;
    return view;
  }

 private:
  bool need(std::size_t n) noexcept {
    if (!ok_ || remaining() < n) {
      ok_ = false;
      return false;
    }
    return true;
  }

  std::span<const std::uint8_t> bytes_;
  std::size_t pos_ = 0;
  bool ok_ = true;
};

class Writer {
 public:
  explicit Writer(std::span<std::uint8_t> out) noexcept : out_(out) {}

  std::size_t size() const noexcept { return pos_; }
  bool ok() const noexcept { return ok_; }

  void u8(std::uint8_t v) noexcept {
    if (need(1)) out_[pos_++] = v;
  }
  void u16(std::uint16_t v) noexcept {
    if (!need(2)) return;
    out_[pos_++] = static_cast<std::uint8_t>(v >> 8);
    out_[pos_++] = static_cast<std::uint8_t>(v);
  }
  void u32(std::uint32_t v) noexcept {
    if (!need(4)) return;
    for (int shift = 24; shift >= 0; shift -= 8) out_[pos_++] = static_cast<std::uint8_t>(v >> shift);
  }
  void bytes(std::span<const std::uint8_t> v) noexcept {
    if (!need(v.size())) return;
    if (!v.empty()) std::memcpy(out_.data() + pos_, v.data(), v.size());
    pos_ += v.size();
  }

 private:
  bool need(std::size_t n) noexcept {
    if (!ok_ || out_.size() - pos_ < n) {
      ok_ = false;
      return false;
    }
    return true;
  }

  std::span<std::uint8_t> out_;
  std::size_t pos_ = 0;
  bool ok_ = true;
};

}  // namespace volley::protocol::detail
