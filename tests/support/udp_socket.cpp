#include "support/udp_socket.hpp"

#include <arpa/inet.h>
#include <poll.h>
#include <unistd.h>

#include <cstring>
#include <stdexcept>

namespace volley::test {

UdpSocket::UdpSocket(const std::string& host) {
  sockaddr_storage addr{};
  socklen_t len = 0;
  if (host.find(':') != std::string::npos) {
    auto* a6 = reinterpret_cast<sockaddr_in6*>(&addr);
    a6->sin6_family = AF_INET6;
    if (inet_pton(AF_INET6, host.c_str(), &a6->sin6_addr) != 1) throw std::runtime_error("bad address " + host);
    len = sizeof(sockaddr_in6);
  } else {
    auto* a4 = reinterpret_cast<sockaddr_in*>(&addr);
    a4->sin_family = AF_INET;
    if (inet_pton(AF_INET, host.c_str(), &a4->sin_addr) != 1) throw std::runtime_error("bad address " + host);
    len = sizeof(sockaddr_in);
  }
  fd_ = ::socket(addr.ss_family, SOCK_DGRAM, 0);
  if (fd_ < 0) throw std::runtime_error("socket() failed");
  if (::bind(fd_, reinterpret_cast<sockaddr*>(&addr), len) != 0) throw std::runtime_error("bind() failed");
  if (::getsockname(fd_, reinterpret_cast<sockaddr*>(&addr), &len) != 0) throw std::runtime_error("getsockname");
  port_ = ntohs(addr.ss_family == AF_INET6 ? reinterpret_cast<sockaddr_in6*>(&addr)->sin6_port
                                           : reinterpret_cast<sockaddr_in*>(&addr)->sin_port);
}

UdpSocket::~UdpSocket() {
  if (fd_ >= 0) ::close(fd_);
}

std::optional<UdpSocket::Datagram> UdpSocket::receive(int timeout_ms) {
  pollfd p{fd_, POLLIN, 0};
  if (::poll(&p, 1, timeout_ms) <= 0) return std::nullopt;
  Datagram d;
  d.bytes.resize(65536);
  d.from_len = sizeof(d.from);
  const ssize_t n = ::recvfrom(fd_, d.bytes.data(), d.bytes.size(), 0,
                               reinterpret_cast<sockaddr*>(&d.from), &d.from_len);
  if (n < 0) return std::nullopt;
  d.bytes.resize(static_cast<std::size_t>(n));
  return d;
}

void UdpSocket::send_to(std::span<const std::uint8_t> bytes, const sockaddr_storage& to, socklen_t to_len) {
  ::sendto(fd_, bytes.data(), bytes.size(), 0, reinterpret_cast<const sockaddr*>(&to), to_len);
}

}  // namespace volley::test
