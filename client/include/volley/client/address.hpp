// "host:port" strings as a game configures them: IPv4 "1.2.3.4:7777", bracketed IPv6
// "[::1]:7777", or a name "game.example:7777". Parsing only; Host::connect resolves.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace volley::client {

struct Endpoint {
  std::string host;       // without brackets
  std::uint16_t port = 0;  // 1..65535
  bool bracketed = false;  // written as "[...]" (an IPv6 literal)
};

// nullopt when malformed: no port, port not 1..65535, empty host, an unbracketed host with a
// colon, unbalanced brackets, embedded NUL / whitespace, or a host of digits and dots that is
// not a whole dotted quad ("1.2.3", which resolvers would read as 1.2.0.3).
std::optional<Endpoint> parse_endpoint(std::string_view text);

}  // namespace volley::client
