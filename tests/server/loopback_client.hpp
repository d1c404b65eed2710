// A client-role protocol Peer on a real loopback UDP socket, driven by hand on the test thread
// with the engine's clock: enough to talk to a running Server over IPv4 or IPv6.
#pragma once

#include <arpa/inet.h>

#include <array>
#include <cstring>
#include <functional>
#include <string>
#include <vector>

#include "support/udp_socket.hpp"
#include "volley/engine/clock.hpp"
#include "volley/protocol/peer.hpp"

namespace volley::server::test {

class LoopbackClient {
 public:
  LoopbackClient(const std::string& host, std::uint16_t port, protocol::PeerConfig config = {})
      : socket_(host), peer_(protocol::PeerRole::kClient, 0, config) {
    std::memset(&server_, 0, sizeof(server_));
    if (host.find(':') != std::string::npos) {
      auto* a = reinterpret_cast<sockaddr_in6*>(&server_);
      a->sin6_family = AF_INET6;
      a->sin6_port = htons(port);
      inet_pton(AF_INET6, host.c_str(), &a->sin6_addr);
      server_len_ = sizeof(sockaddr_in6);
    } else {
      auto* a = reinterpret_cast<sockaddr_in*>(&server_);
      a->sin_family = AF_INET;
      a->sin_port = htons(port);
      inet_pton(AF_INET, host.c_str(), &a->sin_addr);
      server_len_ = sizeof(sockaddr_in);
    }
  }

  protocol::Peer& peer() { return peer_; }
  std::vector<protocol::PeerEvent>& events() { return events_; }
  std::size_t count(protocol::PeerEvent::Type type) const {
    std::size_t n = 0;
    for (const auto& e : events_) n += e.type == type ? 1 : 0;
    return n;
  }

  void connect(std::uint32_t channels, std::uint32_t data) {
    peer_.connect(engine::now(), channels, data, {1, 2, 3, 4});
  }

  // One round: send what is due, wait up to `wait_ms` for a datagram, run timers, take events.
  void step(int wait_ms) {
    std::array<std::uint8_t, protocol::kMaxMtu> buf{};
    while (const std::size_t n = peer_.poll_datagram(engine::now(), buf)) {
      socket_.send_to(std::span(buf.data(), n), server_, server_len_);
    }
    if (auto d = socket_.receive(wait_ms)) {
      peer_.on_datagram(engine::now(), d->bytes);
      while (auto more = socket_.receive(0)) peer_.on_datagram(engine::now(), more->bytes);
    }
    if (const auto due = peer_.next_deadline(); due && *due <= engine::now()) peer_.on_deadline(engine::now());
    while (auto e = peer_.poll_event()) events_.push_back(std::move(*e));
  }

  bool run_until(const std::function<bool()>& done, int limit_ms) {
    const engine::TimePoint end = engine::now() + static_cast<engine::TimePoint>(limit_ms) * 1000;
    while (engine::now() < end) {
      step(5);
      if (done()) return true;
    }
    return done();
  }

 private:
  volley::test::UdpSocket socket_;
  protocol::Peer peer_;
  sockaddr_storage server_{};
  socklen_t server_len_ = 0;
  std::vector<protocol::PeerEvent> events_;
};

}  // namespace volley::server::test
