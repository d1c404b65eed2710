// Datagram value types shared by the loop and its users: Address (an IPv4 or IPv6 endpoint kept
// in socket-address form so the hot path never converts), the received-datagram view and the
// outgoing-datagram description. No OS headers leak from here.
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <optional>
#include <span>
#include <string>
#include <string_view>

#include "volley/vocabulary/bytes.hpp"

namespace volley::engine {

using volley::Bytes;

enum class AddressFamily : std::uint8_t { kNone, kIpv4, kIpv6 };

class Address {
 public:
  // Enough for sockaddr_in6 on every platform we build for.
  static constexpr std::size_t kMaxSize = 28;

  Address() = default;

  // host is a numeric IPv4 ("127.0.0.1") or IPv6 ("::1") literal; no name resolution.
  static std::optional<Address> from_ip(std::string_view host, std::uint16_t port);
  // "1.2.3.4:5", "[::1]:5".
  static std::optional<Address> parse(std::string_view text);
  // A numeric literal as from_ip, or a host name looked up once (getaddrinfo; it blocks, so
  // not on a loop thread): its first IPv4 address, else its first IPv6 one. nullopt: no address.
  static std::optional<Address> resolve(std::string_view host, std::uint16_t port);
  static Address loopback_v4(std::uint16_t port);
  static Address loopback_v6(std::uint16_t port);
  static Address any_v4(std::uint16_t port);
  static Address any_v6(std::uint16_t port);
  // Wraps a raw sockaddr of `size` bytes; an unsupported family yields an empty Address.
  static Address from_sockaddr(const void* sockaddr, std::size_t size);

  AddressFamily family() const noexcept;
  std::uint16_t port() const noexcept;
  // An IPv4-mapped IPv6 address (what a dual-stack socket reports for IPv4 senders) as IPv4.
  Address unmapped() const;
  // IPv4 as IPv4-mapped IPv6 (needed to send from a dual-stack IPv6 socket); others unchanged.
  Address mapped_v6() const;
  // The same IP (and IPv6 scope) with another port. with_port(0) names a whole client IP: the key
  // for per-IP limits, which must not care which port a client sends from.
  Address with_port(std::uint16_t port) const;
  std::string to_string() const;

  const void* sockaddr() const noexcept { return storage_.data(); }
  std::size_t size() const noexcept { return size_; }
  bool empty() const noexcept { return size_ == 0; }

  friend bool operator==(const Address& a, const Address& b) noexcept;
  std::size_t hash() const noexcept;

 private:
  alignas(8) std::array<unsigned char, kMaxSize> storage_{};
  std::uint8_t size_ = 0;
};

// Names one of a loop's UDP sockets: the primary socket every loop opens is kPrimarySocket;
// Loop::open_socket() hands out the others. An id carries a generation, so an id kept after
// its socket was closed never names the socket that later reuses the slot.
using SocketId = std::uint32_t;
inline constexpr SocketId kPrimarySocket = 0;

// A received datagram. `bytes` is valid only during the handler call that delivers it: the
// buffer goes straight back to the kernel afterwards.
struct DatagramView {
  Bytes bytes;
  Address from;
  SocketId socket = kPrimarySocket;  // the loop socket it arrived on
};

// An outgoing datagram. The loop copies `bytes` when send() is called, so the caller may reuse
// its buffer immediately.
struct OutDatagram {
  Bytes bytes;
  Address to;
  SocketId socket = kPrimarySocket;  // the loop socket to send it from
};

using DatagramHandler = std::function<void(std::span<const DatagramView>)>;

}  // namespace volley::engine

template <>
struct std::hash<volley::engine::Address> {
  std::size_t operator()(const volley::engine::Address& a) const noexcept { return a.hash(); }
};
