// The choice among a name's getaddrinfo answers, apart from the lookup so it is testable.
#pragma once

#include <cstdint>
#include <optional>

#include "os.hpp"
#include "volley/engine/udp.hpp"

#ifndef _WIN32
#include <netdb.h>
#endif

namespace volley::engine::detail {

// The first IPv4 answer (an IPv4-mapped IPv6 one counts), else the first IPv6 one, with `port`.
std::optional<Address> pick_address(const addrinfo* list, std::uint16_t port);

}  // namespace volley::engine::detail
