// Echo callbacks. The echo goes out in the same flush as the acknowledgement of the packet it
// answers, because the Host services the peer after its events.
#include "echo.hpp"

namespace volley::server::app {

Callbacks echo_callbacks(Server& server, DebugLog debug) {
  Callbacks callbacks;
  callbacks.on_receive = [&server](const Packet& packet) {
    server.send(packet.peer, packet.channel, packet.bytes, packet.delivery);
  };
  if (debug) {
    callbacks.on_connect = [&server, debug](PeerHandle peer, std::uint32_t data) {
      const auto stats = server.peer_stats(peer);
      debug("connect peer=" + std::to_string(peer.index) + " from=" +
            (stats ? stats->address : std::string("?")) + " data=" + std::to_string(data));
    };
    callbacks.on_disconnect = [debug](PeerHandle peer, DisconnectReason reason, std::uint32_t data) {
      debug("disconnect peer=" + std::to_string(peer.index) + " reason=" +
            std::string(disconnect_reason_name(reason)) + " data=" + std::to_string(data));
    };
  }
  return callbacks;
}

}  // namespace volley::server::app
