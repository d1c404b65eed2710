// Test helpers for the client library: a plain stock-libenet server host (enet_host_create) on
// 127.0.0.1, event logs that copy what both sides saw, and a pump that services both ends on
// this thread until a condition holds or a real-time limit passes.
#pragma once

#include <enet/enet.h>

#include <chrono>
#include <cstdint>
#include <functional>
#include <string>
#include <vector>

#include "volley/client/host.hpp"

namespace volley::client::test {

using namespace std::chrono_literals;

struct Seen {
  EventType type = EventType::kConnected;
  ConnectionId connection;
  std::uint8_t channel = 0;
  Delivery delivery = Delivery::kReliable;
  std::vector<std::uint8_t> bytes;
  DisconnectReason reason = DisconnectReason::kLocal;
  std::uint32_t data = 0;
};

// Everything a Host's poll() returned, copied (the packet bytes live only until the next poll).
struct ClientLog {
  std::vector<Seen> events;
  // Polls until no event is ready; `hook` sees each event first (a GameConnection, say) and
  // returns true when it consumed it (then it is not logged).
  void drain(Host& host, const std::function<bool(const Event&)>& hook = {});
  const Seen* find(EventType type, ConnectionId id) const;
  std::size_t count(EventType type, ConnectionId id) const;
};

struct ServerSeen {
  ENetEventType type = ENET_EVENT_TYPE_NONE;
  ENetPeer* peer = nullptr;
  std::uint8_t channel = 0;
  std::uint32_t flags = 0;
  std::uint32_t data = 0;
  std::vector<std::uint8_t> bytes;
};

class StockServer {
 public:
  struct Options {
    std::size_t peers = 8;
    std::size_t channels = 4;
    bool checksum = false;
    bool range_coder = false;
  };
  StockServer();
  explicit StockServer(const Options& options);
  ~StockServer();
  StockServer(const StockServer&) = delete;
  StockServer& operator=(const StockServer&) = delete;

  std::uint16_t port() const { return port_; }
  std::string address() const { return "127.0.0.1:" + std::to_string(port_); }
  ENetHost* host() const { return host_; }
  void service();  // one pass, no wait; logs every event (packets copied and destroyed)
  std::vector<ServerSeen> events;
  ENetPeer* last_connected() const;
  void send(ENetPeer* peer, std::uint8_t channel, std::uint32_t flags,
            const std::vector<std::uint8_t>& bytes);

 private:
  ENetHost* host_ = nullptr;
  std::uint16_t port_ = 0;
};

// Services `server` (if any) and drains `host` into `log` until `done()` or `limit` passes.
bool pump(Host& host, ClientLog& log, StockServer* server, const std::function<bool()>& done,
          std::chrono::milliseconds limit = 5s,
          const std::function<bool(const Event&)>& hook = {});

std::vector<std::uint8_t> pattern(std::size_t size, std::uint8_t seed);

}  // namespace volley::client::test
