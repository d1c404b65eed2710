// Big-endian (network order) reading and writing, the one definition for the protocol and the
// tools and tests around it. Untrusted bytes become values here, field by field: nothing is
// ever cast over a buffer (alignment and aliasing stay defined). ByteReader / ByteWriter check
// bounds and fail softly instead of reading or writing past the end; load_be* / store_be* are
// for callers that have checked the length already.
#pragma once

#include <cstddef>
#include <cstdint>
#include <cstring>
#include <span>

namespace volley::protocol {

constexpr std::uint16_t load_be16(std::span<const std::uint8_t> b, std::size_t at = 0) noexcept {
  return static_cast<std::uint16_t>((b[at] << 8) | b[at + 1]);
}
constexpr std::uint32_t load_be32(std::span<const std::uint8_t> b, std::size_t at = 0) noexcept {
  return (std::uint32_t{load_be16(b, at)} << 16) | load_be16(b, at + 2);
}
constexpr void store_be16(std::span<std::uint8_t> b, std::size_t at, std::uint16_t v) noexcept {
  b[at] = static_cast<std::uint8_t>(v >> 8);
  b[at + 1] = static_cast<std::uint8_t>(v);
}
constexpr void store_be32(std::span<std::uint8_t> b, std::size_t at, std::uint32_t v) noexcept {
  store_be16(b, at, static_cast<std::uint16_t>(v >> 16));
  store_be16(b, at + 2, static_cast<std::uint16_t>(v));
}

class ByteReader {
 public:
  explicit ByteReader(std::span<const std::uint8_t> bytes) noexcept : bytes_(bytes) {}

  std::size_t remaining() const noexcept { return bytes_.size() - pos_; }
  std::size_t position() const noexcept { return pos_; }
  bool ok() const noexcept { return ok_; }

  std::uint8_t u8() noexcept {
    if (!need(1)) return 0;
    return bytes_[pos_++];
  }
  std::uint16_t u16() noexcept {
    if (!need(2)) return 0;
    const std::uint16_t v = load_be16(bytes_, pos_);
    pos_ += 2;
    return v;
  }
  std::uint32_t u32() noexcept {
    if (!need(4)) return 0;
    const std::uint32_t v = load_be32(bytes_, pos_);
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

class ByteWriter {
 public:
  explicit ByteWriter(std::span<std::uint8_t> out) noexcept : out_(out) {}

  std::size_t size() const noexcept { return pos_; }
  bool ok() const noexcept { return ok_; }

  void u8(std::uint8_t v) noexcept {
    if (need(1)) out_[pos_++] = v;
  }
  void u16(std::uint16_t v) noexcept {
    if (!need(2)) return;
    store_be16(out_, pos_, v);
    pos_ += 2;
  }
  void u32(std::uint32_t v) noexcept {
    if (!need(4)) return;
    store_be32(out_, pos_, v);
    pos_ += 4;
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

}  // namespace volley::protocol
