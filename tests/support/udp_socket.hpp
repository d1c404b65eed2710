// A plain blocking-with-timeout IPv4/IPv6 UDP socket for tests that play one side of a
// conversation by hand. Test code only: production I/O lives in the engine.
#pragma once

#include <netinet/in.h>
#include <sys/socket.h>

#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <vector>

namespace volley::test {

class UdpSocket {
 public:
  // Binds to `host` ("127.0.0.1" or "::1") on an ephemeral port; throws on failure.
  explicit UdpSocket(const std::string& host = "127.0.0.1");
  ~UdpSocket();
  UdpSocket(const UdpSocket&) = delete;
  UdpSocket& operator=(const UdpSocket&) = delete;

  std::uint16_t port() const { return port_; }

  struct Datagram {
    std::vector<std::uint8_t> bytes;
    sockaddr_storage from{};
    socklen_t from_len = 0;
  };
  // Waits up to timeout_ms for one datagram.
  std::optional<Datagram> receive(int timeout_ms);
  void send_to(std::span<const std::uint8_t> bytes, const sockaddr_storage& to, socklen_t to_len);

 private:
  int fd_ = -1;
  std::uint16_t port_ = 0;
};

}  // namespace volley::test
