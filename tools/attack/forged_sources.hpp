// Forged source addresses for the floods: random 127.a.b.c with random ports. The whole
// 127.0.0.0/8 block is loopback on Linux, so a socket can bind any of these and the server sees
// ~16 million distinct IPs, as from a spoofer on the internet. 127.0.0.0/16 is left out so the
// real clients (127.0.0.1) are never among the forged sources, and so are .0 and .255 last octets.
#pragma once

#include <cstdint>
#include <string>

#include "rng.hpp"

namespace volley::attack {

struct Source {
  std::uint32_t ip = 0;  // host byte order
  std::uint16_t port = 0;
  std::string text() const;  // "127.a.b.c:port"
};

inline constexpr std::uint16_t kLowestForgedPort = 1024;

class ForgedSources {
 public:
  explicit ForgedSources(std::uint64_t seed) noexcept : rng_(seed) {}
  Source next() noexcept;

 private:
  Rng rng_;
};

// True for the addresses next() may return (the unit tests' oracle).
bool is_forgeable(const Source& source) noexcept;

}  // namespace volley::attack
