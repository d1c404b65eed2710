// Address: conversion between the public Address value and OS socket addresses, plus numeric
// parsing and formatting. Names are looked up in resolve.cpp only: the loop binds and answers
// numeric endpoints.
#include "os.hpp"
#include "volley/engine/udp.hpp"

#include <charconv>
#include <cstring>

namespace volley::engine {
namespace {

constexpr unsigned char kV4MappedPrefix[12] = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff};

}  // namespace

Address Address::from_sockaddr(const void* addr, std::size_t size) {
  Address out;
  if (addr == nullptr || size < sizeof(sockaddr_in)) return out;
  const auto family = reinterpret_cast<const ::sockaddr*>(addr)->sa_family;
  static_assert(sizeof(sockaddr_in6) <= kMaxSize);
  // Each family copies a constant size: this runs once per received datagram, and a copy of a
  // run-time length is a call into memcpy.
  if (family == AF_INET) {
    std::memcpy(out.storage_.data(), addr, sizeof(sockaddr_in));
    out.size_ = sizeof(sockaddr_in);
  } else if (family == AF_INET6 && size >= sizeof(sockaddr_in6)) {
    std::memcpy(out.storage_.data(), addr, sizeof(sockaddr_in6));
    out.size_ = sizeof(sockaddr_in6);
  }
  return out;
}

std::optional<Address> Address::from_ip(std::string_view host, std::uint16_t port) {
  char text[64];
  if (host.size() >= sizeof(text)) return std::nullopt;
  std::memcpy(text, host.data(), host.size());
  text[host.size()] = '\0';
  sockaddr_in v4{};
  if (inet_pton(AF_INET, text, &v4.sin_addr) == 1) {
    v4.sin_family = AF_INET;
    v4.sin_port = htons(port);
    return from_sockaddr(&v4, sizeof(v4));
  }
  sockaddr_in6 v6{};
  if (inet_pton(AF_INET6, text, &v6.sin6_addr) == 1) {
    v6.sin6_family = AF_INET6;
    v6.sin6_port = htons(port);
    return from_sockaddr(&v6, sizeof(v6));
  }
  return std::nullopt;
}

std::optional<Address> Address::parse(std::string_view text) {
  std::string_view host;
  std::string_view port_text;
  if (!text.empty() && text.front() == '[') {
    const auto close = text.find(']');
    if (close == std::string_view::npos || close + 1 >= text.size() || text[close + 1] != ':') {
      return std::nullopt;
    }
    host = text.substr(1, close - 1);
    port_text = text.substr(close + 2);
  } else {
    const auto colon = text.rfind(':');
    if (colon == std::string_view::npos || text.find(':') != colon) return std::nullopt;
    host = text.substr(0, colon);
    port_text = text.substr(colon + 1);
  }
  unsigned port = 0;
  const auto [end, ec] = std::from_chars(port_text.data(), port_text.data() + port_text.size(), port);
  if (ec != std::errc{} || end != port_text.data() + port_text.size() || port > 65535 ||
      port_text.empty()) {
    return std::nullopt;
  }
  auto address = from_ip(host, static_cast<std::uint16_t>(port));
  // Brackets are for IPv6 only, and IPv6 needs them (the port would be ambiguous).
  const bool bracketed = text.front() == '[';
  if (address && (address->family() == AddressFamily::kIpv6) != bracketed) return std::nullopt;
  return address;
}

Address Address::loopback_v4(std::uint16_t port) { return *from_ip("127.0.0.1", port); }
Address Address::loopback_v6(std::uint16_t port) { return *from_ip("::1", port); }
Address Address::any_v4(std::uint16_t port) { return *from_ip("0.0.0.0", port); }
Address Address::any_v6(std::uint16_t port) { return *from_ip("::", port); }

AddressFamily Address::family() const noexcept {
  if (size_ == sizeof(sockaddr_in)) return AddressFamily::kIpv4;
  if (size_ == sizeof(sockaddr_in6)) return AddressFamily::kIpv6;
  return AddressFamily::kNone;
}

std::uint16_t Address::port() const noexcept {
  switch (family()) {
    case AddressFamily::kIpv4:
      return ntohs(reinterpret_cast<const sockaddr_in*>(storage_.data())->sin_port);
    case AddressFamily::kIpv6:
      return ntohs(reinterpret_cast<const sockaddr_in6*>(storage_.data())->sin6_port);
    default:
      return 0;
  }
}

Address Address::unmapped() const {
  if (family() != AddressFamily::kIpv6) return *this;
  const auto* v6 = reinterpret_cast<const sockaddr_in6*>(storage_.data());
  if (std::memcmp(&v6->sin6_addr, kV4MappedPrefix, sizeof(kV4MappedPrefix)) != 0) return *this;
  sockaddr_in v4{};
  v4.sin_family = AF_INET;
  v4.sin_port = v6->sin6_port;
  std::memcpy(&v4.sin_addr, reinterpret_cast<const unsigned char*>(&v6->sin6_addr) + 12, 4);
  return from_sockaddr(&v4, sizeof(v4));
}

Address Address::mapped_v6() const {
  if (family() != AddressFamily::kIpv4) return *this;
  const auto* v4 = reinterpret_cast<const sockaddr_in*>(storage_.data());
  sockaddr_in6 v6{};
  v6.sin6_family = AF_INET6;
  v6.sin6_port = v4->sin_port;
  auto* bytes = reinterpret_cast<unsigned char*>(&v6.sin6_addr);
  std::memcpy(bytes, kV4MappedPrefix, sizeof(kV4MappedPrefix));
  std::memcpy(bytes + 12, &v4->sin_addr, 4);
  return from_sockaddr(&v6, sizeof(v6));
}

Address Address::with_port(std::uint16_t port) const {
  Address out = *this;
  switch (family()) {
    case AddressFamily::kIpv4: {
      sockaddr_in v4{};
      std::memcpy(&v4, storage_.data(), sizeof(v4));
      v4.sin_port = htons(port);
      std::memcpy(out.storage_.data(), &v4, sizeof(v4));
      break;
    }
    case AddressFamily::kIpv6: {
      sockaddr_in6 v6{};
      std::memcpy(&v6, storage_.data(), sizeof(v6));
      v6.sin6_port = htons(port);
      std::memcpy(out.storage_.data(), &v6, sizeof(v6));
      break;
    }
    default:
      break;
  }
  return out;
}

std::string Address::to_string() const {
  char host[64] = {};
  switch (family()) {
    case AddressFamily::kIpv4: {
      auto* v4 = const_cast<sockaddr_in*>(reinterpret_cast<const sockaddr_in*>(storage_.data()));
      if (inet_ntop(AF_INET, &v4->sin_addr, host, sizeof(host)) == nullptr) return "?";
      return std::string(host) + ":" + std::to_string(port());
    }
    case AddressFamily::kIpv6: {
      auto* v6 = const_cast<sockaddr_in6*>(reinterpret_cast<const sockaddr_in6*>(storage_.data()));
      if (inet_ntop(AF_INET6, &v6->sin6_addr, host, sizeof(host)) == nullptr) return "?";
      return "[" + std::string(host) + "]:" + std::to_string(port());
    }
    default:
      return "(none)";
  }
}

// Compares family, port and IP only: sin6_flowinfo and padding differ between what the kernel
// reports and what a user builds, and must not split one peer into two.
bool operator==(const Address& a, const Address& b) noexcept {
  if (a.family() != b.family()) return false;
  switch (a.family()) {
    case AddressFamily::kIpv4: {
      const auto* x = reinterpret_cast<const sockaddr_in*>(a.storage_.data());
      const auto* y = reinterpret_cast<const sockaddr_in*>(b.storage_.data());
      return x->sin_port == y->sin_port &&
             std::memcmp(&x->sin_addr, &y->sin_addr, sizeof(x->sin_addr)) == 0;
    }
    case AddressFamily::kIpv6: {
      const auto* x = reinterpret_cast<const sockaddr_in6*>(a.storage_.data());
      const auto* y = reinterpret_cast<const sockaddr_in6*>(b.storage_.data());
      return x->sin6_port == y->sin6_port && x->sin6_scope_id == y->sin6_scope_id &&
             std::memcmp(&x->sin6_addr, &y->sin6_addr, sizeof(x->sin6_addr)) == 0;
    }
    default:
      return true;
  }
}

std::size_t Address::hash() const noexcept {
  // FNV-1a over exactly the fields operator== compares.
  std::uint64_t h = 1469598103934665603ull;
  auto mix = [&h](const void* p, std::size_t n) {
    const auto* b = static_cast<const unsigned char*>(p);
    for (std::size_t i = 0; i < n; ++i) h = (h ^ b[i]) * 1099511628211ull;
  };
  const auto fam = static_cast<unsigned char>(family());
  mix(&fam, 1);
  if (family() == AddressFamily::kIpv4) {
    const auto* x = reinterpret_cast<const sockaddr_in*>(storage_.data());
    mix(&x->sin_port, sizeof(x->sin_port));
    mix(&x->sin_addr, sizeof(x->sin_addr));
  } else if (family() == AddressFamily::kIpv6) {
    const auto* x = reinterpret_cast<const sockaddr_in6*>(storage_.data());
    mix(&x->sin6_port, sizeof(x->sin6_port));
    mix(&x->sin6_addr, sizeof(x->sin6_addr));
  }
  return static_cast<std::size_t>(h);
}

}  // namespace volley::engine
