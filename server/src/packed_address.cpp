// PackedAddress::of: reads the sockaddr the Address wraps once (no system calls, just the structs).
#include "packed_address.hpp"

#include <cstring>

#ifdef _WIN32
#include <winsock2.h>
#include <ws2tcpip.h>
#else
#include <netinet/in.h>
#endif

namespace volley::server {

PackedAddress PackedAddress::of(const engine::Address& address) noexcept {
  PackedAddress out;
  // The Address holds exactly a sockaddr_in or a sockaddr_in6 (or nothing): its size says which.
  if (address.size() == sizeof(sockaddr_in)) {
    sockaddr_in sa{};
    std::memcpy(&sa, address.sockaddr(), sizeof(sa));
    constexpr std::uint8_t kMapped[4] = {0, 0, 0xff, 0xff};
    std::memcpy(&out.ip[2], kMapped, 4);
    std::memcpy(&out.ip[3], &sa.sin_addr, 4);
    out.port = sa.sin_port;
    out.family = static_cast<std::uint8_t>(engine::AddressFamily::kIpv4);
  } else if (address.size() == sizeof(sockaddr_in6)) {
    sockaddr_in6 sa{};
    std::memcpy(&sa, address.sockaddr(), sizeof(sa));
    std::memcpy(out.ip.data(), &sa.sin6_addr, 16);
    out.port = sa.sin6_port;
    constexpr std::uint8_t kMappedPrefix[12] = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff};
    if (std::memcmp(&sa.sin6_addr, kMappedPrefix, sizeof(kMappedPrefix)) == 0) {
      // What unmapped() makes of it: IPv4, no scope.
      out.family = static_cast<std::uint8_t>(engine::AddressFamily::kIpv4);
    } else {
      out.family = static_cast<std::uint8_t>(engine::AddressFamily::kIpv6);
      out.scope = static_cast<std::uint32_t>(sa.sin6_scope_id);
    }
  }
  return out;
}

}  // namespace volley::server
