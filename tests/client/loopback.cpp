#include "loopback.hpp"

#include <stdexcept>
#include <thread>

namespace volley::client::test {

void ClientLog::drain(Host& host, const std::function<bool(const Event&)>& hook) {
  Event event;
  for (int i = 0; i < 100000 && host.poll(event); ++i) {
    if (hook && hook(event)) continue;
    Seen seen;
    seen.type = event.type;
    seen.connection = event.connection;
    seen.channel = event.channel;
    seen.delivery = event.delivery;
    seen.bytes.assign(event.bytes.begin(), event.bytes.end());
    seen.reason = event.reason;
    seen.data = event.data;
    events.push_back(std::move(seen));
  }
}

const Seen* ClientLog::find(EventType type, ConnectionId id) const {
  for (const Seen& seen : events) {
    if (seen.type == type && seen.connection == id) return &seen;
  }
  return nullptr;
}

std::size_t ClientLog::count(EventType type, ConnectionId id) const {
  std::size_t n = 0;
  for (const Seen& seen : events) n += seen.type == type && seen.connection == id ? 1 : 0;
  return n;
}

StockServer::StockServer() : StockServer(Options{}) {}

StockServer::StockServer(const Options& options) {
  if (enet_initialize() != 0) throw std::runtime_error("enet_initialize");
  ENetAddress address{};
  enet_address_set_host_ip(&address, "127.0.0.1");
  address.port = 0;
  host_ = enet_host_create(&address, options.peers, options.channels, 0, 0);
  if (host_ == nullptr) throw std::runtime_error("enet_host_create");
  if (options.checksum) host_->checksum = enet_crc32;
  if (options.range_coder) enet_host_compress_with_range_coder(host_);
  ENetAddress bound{};
  enet_socket_get_address(host_->socket, &bound);
  port_ = bound.port;
}

StockServer::~StockServer() {
  enet_host_destroy(host_);
  enet_deinitialize();
}

void StockServer::service() {
  ENetEvent event;
  for (int i = 0; i < 100000 && enet_host_service(host_, &event, 0) > 0; ++i) {
    ServerSeen seen;
    seen.type = event.type;
    seen.peer = event.peer;
    seen.channel = event.channelID;
    seen.data = event.data;
    if (event.type == ENET_EVENT_TYPE_RECEIVE) {
      seen.flags = event.packet->flags;
      seen.bytes.assign(event.packet->data, event.packet->data + event.packet->dataLength);
      enet_packet_destroy(event.packet);
    }
    events.push_back(std::move(seen));
  }
}

ENetPeer* StockServer::last_connected() const {
  for (auto it = events.rbegin(); it != events.rend(); ++it) {
    if (it->type == ENET_EVENT_TYPE_CONNECT) return it->peer;
  }
  return nullptr;
}

void StockServer::send(ENetPeer* peer, std::uint8_t channel, std::uint32_t flags,
                       const std::vector<std::uint8_t>& bytes) {
  ENetPacket* packet = enet_packet_create(bytes.data(), bytes.size(), flags);
  if (enet_peer_send(peer, channel, packet) != 0) {
    enet_packet_destroy(packet);
    throw std::runtime_error("enet_peer_send");
  }
}

bool pump(Host& host, ClientLog& log, StockServer* server, const std::function<bool()>& done,
          std::chrono::milliseconds limit, const std::function<bool(const Event&)>& hook) {
  const auto deadline = std::chrono::steady_clock::now() + limit;
  while (std::chrono::steady_clock::now() < deadline) {
    if (server != nullptr) server->service();
    log.drain(host, hook);
    if (done()) return true;
    std::this_thread::sleep_for(1ms);
  }
  return done();
}

std::vector<std::uint8_t> pattern(std::size_t size, std::uint8_t seed) {
  std::vector<std::uint8_t> bytes(size);
  for (std::size_t i = 0; i < size; ++i) bytes[i] = static_cast<std::uint8_t>(seed + i * 7 + (i >> 8));
  return bytes;
}

}  // namespace volley::client::test
