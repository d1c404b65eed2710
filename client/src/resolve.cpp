#include "resolve.hpp"

#ifdef _WIN32
#include <winsock2.h>
#include <ws2tcpip.h>
#else
#include <netdb.h>
#include <netinet/in.h>
#include <sys/socket.h>
#endif

#include <cstring>

namespace volley::client::detail {

Resolved pick_ipv4(const addrinfo* list) {
  bool ipv6 = false;
  for (const addrinfo* a = list; a != nullptr; a = a->ai_next) {
    if (a->ai_family == AF_INET && a->ai_addrlen >= sizeof(sockaddr_in)) {
      Resolved r;
      std::memcpy(&r.ipv4, &reinterpret_cast<const sockaddr_in*>(a->ai_addr)->sin_addr, 4);
      return r;
    }
    if (a->ai_family == AF_INET6 && a->ai_addrlen >= sizeof(sockaddr_in6)) {
      const in6_addr& v6 = reinterpret_cast<const sockaddr_in6*>(a->ai_addr)->sin6_addr;
      if (IN6_IS_ADDR_V4MAPPED(&v6)) {
        Resolved r;
        std::memcpy(&r.ipv4, &v6.s6_addr[12], 4);
        return r;
      }
      ipv6 = true;
    }
  }
  return {ipv6 ? ConnectError::kIpv6Unsupported : ConnectError::kUnresolvable, 0};
}

Resolved resolve_ipv4(const std::string& name) {
  // No AI_ADDRCONFIG: on a machine without IPv6 it would hide the AAAA answers this reports.
  addrinfo hints{};
  hints.ai_family = AF_UNSPEC;
  hints.ai_socktype = SOCK_DGRAM;
  addrinfo* list = nullptr;
  if (getaddrinfo(name.c_str(), nullptr, &hints, &list) != 0) return {ConnectError::kUnresolvable, 0};
  const Resolved r = pick_ipv4(list);
  freeaddrinfo(list);
  return r;
}

}  // namespace volley::client::detail
