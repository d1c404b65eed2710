// A canonical byte string for an Address (family, IP, optionally the port, IPv6 scope), plus a
// few appended fields: the input of the keyed hashes of the handshake. Exactly what
// Address::operator== compares, so equal addresses always hash alike.
#pragma once

#include <array>
#include <cstdint>
#include <span>

#include "volley/engine/udp.hpp"

namespace volley::server {

// 127.0.0.0/8 or ::1: traffic that can only come from this machine.
bool is_loopback(const engine::Address& address);

class AddressBytes {
 public:
  AddressBytes(const engine::Address& address, bool with_port);
  void append_u8(std::uint8_t v) noexcept { buf_[size_++] = v; }
  void append_u32(std::uint32_t v) noexcept {
    for (int i = 0; i < 4; ++i) append_u8(static_cast<std::uint8_t>(v >> (8 * i)));
  }
  void append(std::span<const std::uint8_t> bytes) noexcept {
    for (const std::uint8_t b : bytes) append_u8(b);
  }
  std::span<const std::uint8_t> bytes() const noexcept { return {buf_.data(), size_}; }

 private:
  std::array<std::uint8_t, 64> buf_{};
  std::size_t size_ = 0;
};

}  // namespace volley::server
