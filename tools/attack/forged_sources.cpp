#include "forged_sources.hpp"

namespace volley::attack {

Source ForgedSources::next() noexcept {
  Source s;
  const std::uint32_t a = rng_.between(1, 255);  // second octet: 0 is the real clients' /16
  const std::uint32_t b = rng_.between(0, 255);
  const std::uint32_t c = rng_.between(1, 254);
  s.ip = (127u << 24) | (a << 16) | (b << 8) | c;
  s.port = static_cast<std::uint16_t>(rng_.between(kLowestForgedPort, 65535));
  return s;
}

bool is_forgeable(const Source& s) noexcept {
  const std::uint32_t c = s.ip & 0xFF;
  return (s.ip >> 24) == 127 && ((s.ip >> 16) & 0xFF) != 0 && c != 0 && c != 255 && s.port >= kLowestForgedPort;
}

std::string Source::text() const {
  return std::to_string(ip >> 24) + "." + std::to_string((ip >> 16) & 0xFF) + "." + std::to_string((ip >> 8) & 0xFF) +
         "." + std::to_string(ip & 0xFF) + ":" + std::to_string(port);
}

}  // namespace volley::attack
