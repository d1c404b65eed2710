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
    if (host.find_first_of("[]") != std::string_view::npos) return std::nullopt;
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
