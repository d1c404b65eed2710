// Address::resolve: the one name lookup of the engine's users (tools' command lines, a game's
// configuration). Blocking, so never called on a loop thread; the loop itself only ever sees
// numeric addresses.
#include "resolve.hpp"

#include <string>

namespace volley::engine {

namespace detail {

// IPv4 first, as libenet and the client library take a name: a server bound to an IPv4 address
// is reached whichever order the resolver sorted the families in.
std::optional<Address> pick_address(const addrinfo* list, std::uint16_t port) {
  std::optional<Address> first_v6;
  for (const addrinfo* a = list; a != nullptr; a = a->ai_next) {
    const Address candidate = Address::from_sockaddr(a->ai_addr, a->ai_addrlen).unmapped();
    if (candidate.family() == AddressFamily::kIpv4) return candidate.with_port(port);
    if (candidate.family() == AddressFamily::kIpv6 && !first_v6) first_v6 = candidate.with_port(port);
  }
  return first_v6;
}

}  // namespace detail

std::optional<Address> Address::resolve(std::string_view host, std::uint16_t port) {
  if (const auto numeric = from_ip(host, port)) return numeric;
  if (host.empty()) return std::nullopt;
#ifdef _WIN32
  // Winsock counts its users: this lookup may come before any socket is open.
  WSADATA data;
  if (WSAStartup(MAKEWORD(2, 2), &data) != 0) return std::nullopt;
#endif
  addrinfo hints{};
  hints.ai_family = AF_UNSPEC;  // no AI_ADDRCONFIG: a loopback-only machine still gets ::1
  hints.ai_socktype = SOCK_DGRAM;
  addrinfo* list = nullptr;
  std::optional<Address> found;
  if (getaddrinfo(std::string(host).c_str(), nullptr, &hints, &list) == 0) {
    found = detail::pick_address(list, port);
    freeaddrinfo(list);
  }
#ifdef _WIN32
  WSACleanup();
#endif
  return found;
}

}  // namespace volley::engine
