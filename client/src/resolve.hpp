// Name resolution for Host::connect, internal to volley::client. Stock libenet 1.3.x's
// ENetAddress holds an IPv4 address only, and its enet_address_set_host keeps only IPv4
// answers: a name with only IPv6 addresses fails there like a name that does not exist. Resolving
// here (any family) tells the two apart, so the caller can say "IPv6 is unsupported".
#pragma once

#include <cstdint>
#include <string>

#include "volley/client/host.hpp"

struct addrinfo;

namespace volley::client::detail {

struct Resolved {
  ConnectError error = ConnectError::kOk;
  std::uint32_t ipv4 = 0;  // network byte order, as ENetAddress::host keeps it
};

// The first IPv4 address of a getaddrinfo list (an IPv4-mapped IPv6 address counts); else
// kIpv6Unsupported when the list holds IPv6 addresses; else (empty) kUnresolvable.
Resolved pick_ipv4(const addrinfo* list);
// getaddrinfo(name, any family, UDP) then pick_ipv4. Blocks while DNS answers.
Resolved resolve_ipv4(const std::string& name);

}  // namespace volley::client::detail
