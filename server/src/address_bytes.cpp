// AddressBytes: reads the sockaddr the Address wraps (no system calls, just the structs).
#include "address_bytes.hpp"

#include <cstring>

#ifdef _WIN32
#include <winsock2.h>
#include <ws2tcpip.h>
#else
#include <netinet/in.h>
#endif

namespace volley::server {

bool is_loopback(const engine::Address& address) {
  const AddressBytes b(address, false);
  const auto bytes = b.bytes();  // family, then the IP
  if (address.family() == engine::AddressFamily::kIpv4) return bytes[1] == 127;
  if (address.family() != engine::AddressFamily::kIpv6) return false;
  for (std::size_t i = 1; i < 16; ++i) {
    if (bytes[i] != 0) return false;
  }
  return bytes[16] == 1;
}

AddressBytes::AddressBytes(const engine::Address& address, bool with_port) {
  append_u8(static_cast<std::uint8_t>(address.family()));
  if (address.family() == engine::AddressFamily::kIpv4) {
    sockaddr_in sa{};
    std::memcpy(&sa, address.sockaddr(), sizeof(sa));
    std::array<std::uint8_t, 4> ip{};
    std::memcpy(ip.data(), &sa.sin_addr, ip.size());
    append(ip);
  } else if (address.family() == engine::AddressFamily::kIpv6) {
    sockaddr_in6 sa{};
    std::memcpy(&sa, address.sockaddr(), sizeof(sa));
    std::array<std::uint8_t, 16> ip{};
    std::memcpy(ip.data(), &sa.sin6_addr, ip.size());
    append(ip);
    append_u32(static_cast<std::uint32_t>(sa.sin6_scope_id));
  }
  if (with_port) {
    const std::uint16_t port = address.port();
    append_u8(static_cast<std::uint8_t>(port));
    append_u8(static_cast<std::uint8_t>(port >> 8));
  }
}

}  // namespace volley::server
