// parse_endpoint: the syntax only; resolution is Host::connect's (libenet's resolver).
#include "volley/client/address.hpp"

#include <charconv>

namespace volley::client {

namespace {
bool clean(std::string_view s) {
  for (const char c : s) {
    if (c == '\0' || c == ' ' || c == '\t' || c == '\n' || c == '\r') return false;
  }
  return true;
}

// Digits and dots only: meant as an IPv4 address, so it must be a whole dotted quad. The
// resolvers take inet_aton's short forms ("1.2.3" is 1.2.0.3, "7" is 0.0.0.7), which would
// send a mistyped address somewhere else entirely. (No DNS name is all digits: TLDs are not.)
bool bad_numeric(std::string_view host) {
  if (host.find_first_not_of("0123456789.") != std::string_view::npos) return false;
  int parts = 0;
  std::size_t start = 0;
  while (true) {
    const std::size_t dot = host.find('.', start);
    const std::string_view part = host.substr(start, dot == std::string_view::npos ? std::string_view::npos : dot - start);
    unsigned value = 0;
    const auto [end, ec] = std::from_chars(part.data(), part.data() + part.size(), value);
    if (part.empty() || part.size() > 3 || ec != std::errc{} || end != part.data() + part.size() || value > 255)
      return true;
    ++parts;
    if (dot == std::string_view::npos) break;
    start = dot + 1;
  }
  return parts != 4;
}
}  // namespace

std::optional<Endpoint> parse_endpoint(std::string_view text) {
  if (text.empty() || !clean(text)) return std::nullopt;
  Endpoint endpoint;
  std::string_view host;
  std::string_view port;
  if (text.front() == '[') {
    const std::size_t close = text.find(']');
    if (close == std::string_view::npos || close + 1 >= text.size() || text[close + 1] != ':') {
      return std::nullopt;
    }
    host = text.substr(1, close - 1);
    port = text.substr(close + 2);
    if (host.find_first_of("[]") != std::string_view::npos) return std::nullopt;
    endpoint.bracketed = true;
  } else {
    const std::size_t colon = text.find(':');
    if (colon == std::string_view::npos || text.find(':', colon + 1) != std::string_view::npos) {
      return std::nullopt;  // no port, or an IPv6 literal without brackets
    }
    host = text.substr(0, colon);
    port = text.substr(colon + 1);
    if (host.find_first_of("[]") != std::string_view::npos || bad_numeric(host)) return std::nullopt;
  }
  if (host.empty() || port.empty() || port.size() > 5) return std::nullopt;
  unsigned value = 0;
  const auto [end, ec] = std::from_chars(port.data(), port.data() + port.size(), value);
  if (ec != std::errc{} || end != port.data() + port.size() || value == 0 || value > 65535) {
    return std::nullopt;
  }
  endpoint.host = std::string(host);
  endpoint.port = static_cast<std::uint16_t>(value);
  return endpoint;
}

}  // namespace volley::client
