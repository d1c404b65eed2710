// Links the installed libraries and exercises one call of each.
#include <volley/protocol/enet_wire.hpp>
#include <volley/server/version.hpp>

#include <array>
#include <cstdio>

int main() {
  using namespace volley::protocol;
  std::array<std::uint8_t, 8> out{};
  Command ping;
  ping.header = {CommandType::kPing, true, false, kPeerLevelChannel, 1};
  ping.body = Ping{};
  const std::size_t n = encode_command(ping, out);
  std::printf("%.*s; PING encodes to %zu bytes\n", static_cast<int>(volley::server::version().size()),
              volley::server::version().data(), n);
  return n == 4 ? 0 : 1;
}
