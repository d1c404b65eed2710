// random_key: getrandom(2) on Linux; elsewhere std::random_device, which the standard libraries
// we build with back by the OS source (/dev/urandom, RtlGenRandom).
#include "random_key.hpp"

#include <cstddef>
#include <random>

#ifdef __linux__
#include <sys/random.h>
#endif

namespace volley::server {

SipKey random_key() {
  SipKey key{};
#ifdef __linux__
  std::size_t filled = 0;
  while (filled < key.size()) {
    const ssize_t n = getrandom(key.data() + filled, key.size() - filled, 0);
    if (n <= 0) break;
    filled += static_cast<std::size_t>(n);
  }
  if (filled == key.size()) return key;
#endif
  std::random_device device;
  for (std::size_t i = 0; i < key.size(); i += 4) {
    const unsigned int v = device();
    for (std::size_t b = 0; b < 4; ++b) key[i + b] = static_cast<std::uint8_t>(v >> (8 * b));
  }
  return key;
}

}  // namespace volley::server
