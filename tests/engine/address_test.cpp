// Address: numeric parsing and formatting, equality and hashing on exactly the endpoint
// (family, IP, port), IPv4-mapped conversion for dual-stack sockets, and the per-IP key.
#include <doctest/doctest.h>

#include <string>
#include <string_view>
#include <unordered_set>

#ifdef _WIN32
#include <winsock2.h>
#include <ws2tcpip.h>
#else
#include <arpa/inet.h>
#include <netinet/in.h>
#endif

#include "resolve.hpp"
#include "volley/engine/udp.hpp"

using volley::engine::Address;
using volley::engine::AddressFamily;

TEST_CASE("address: parse and format IPv4 and IPv6") {
  const auto v4 = Address::parse("127.0.0.1:4000");
  REQUIRE(v4.has_value());
  CHECK(v4->family() == AddressFamily::kIpv4);
  CHECK(v4->port() == 4000);
  CHECK(v4->to_string() == "127.0.0.1:4000");
  const auto v6 = Address::parse("[::1]:65535");
  REQUIRE(v6.has_value());
  CHECK(v6->family() == AddressFamily::kIpv6);
  CHECK(v6->port() == 65535);
  CHECK(v6->to_string() == "[::1]:65535");
  for (const char* bad : {"", "127.0.0.1", "127.0.0.1:", "127.0.0.1:65536", "::1:5", "[::1]5",
                          "localhost:5", "1.2.3.4:5x", "[1.2.3.4]:5"}) {
    CAPTURE(bad);
    CHECK_FALSE(Address::parse(bad).has_value());
  }
  // A view is judged on its own bytes, whatever follows it in memory.
  const std::string longer = "[::1]:80";
  CHECK_FALSE(Address::parse(std::string_view(longer).substr(0, 5)).has_value());
  CHECK(Address{}.empty());
  CHECK(Address{}.family() == AddressFamily::kNone);
}

TEST_CASE("address: equality and hash cover the endpoint only") {
  const Address a = *Address::parse("10.0.0.1:5");
  const Address b = *Address::from_ip("10.0.0.1", 5);
  const Address c = *Address::parse("10.0.0.1:6");
  CHECK(a == b);
  CHECK(a.hash() == b.hash());
  CHECK_FALSE(a == c);
  std::unordered_set<Address> set{a, b, c, Address::loopback_v6(5)};
  CHECK(set.size() == 3);
}

// Link-local IPv6 addresses are the same bytes on every interface: the scope id tells them apart.
TEST_CASE("address: IPv6 addresses on two interfaces differ") {
  sockaddr_in6 sa{};
  sa.sin6_family = AF_INET6;
  sa.sin6_port = htons(5);
  sa.sin6_addr.s6_addr[0] = 0xfe;
  sa.sin6_addr.s6_addr[1] = 0x80;
  sa.sin6_addr.s6_addr[15] = 1;
  sa.sin6_scope_id = 1;
  const Address one = Address::from_sockaddr(&sa, sizeof(sa));
  sa.sin6_scope_id = 2;
  const Address two = Address::from_sockaddr(&sa, sizeof(sa));
  REQUIRE(one.family() == AddressFamily::kIpv6);
  CHECK_FALSE(one == two);
  CHECK(two == Address::from_sockaddr(&sa, sizeof(sa)));
}

TEST_CASE("address: IPv4-mapped IPv6 round trip") {
  const Address v4 = Address::loopback_v4(7);
  const Address mapped = v4.mapped_v6();
  CHECK(mapped.family() == AddressFamily::kIpv6);
  CHECK(mapped.to_string() == "[::ffff:127.0.0.1]:7");
  CHECK(mapped.unmapped() == v4);
  CHECK(Address::loopback_v6(7).unmapped() == Address::loopback_v6(7));
  CHECK(Address::from_sockaddr(v4.sockaddr(), v4.size()) == v4);
  CHECK(Address::from_sockaddr(v4.sockaddr(), 3).empty());
  const Address v6 = Address::loopback_v6(7);
  CHECK(Address::from_sockaddr(v6.sockaddr(), v6.size()) == v6);
  CHECK(Address::from_sockaddr(v6.sockaddr(), v6.size() - 1).empty());  // an IPv6 family, cut short
  CHECK(Address::from_sockaddr(nullptr, v6.size()).empty());
}

TEST_CASE("address: with_port keeps the IP, so with_port(0) keys a whole client IP") {
  const Address a = *Address::parse("10.1.2.3:4000");
  const Address b = *Address::parse("10.1.2.3:5000");
  const Address c = *Address::parse("10.1.2.4:4000");
  CHECK(a.with_port(0) == b.with_port(0));
  CHECK(a.with_port(0).hash() == b.with_port(0).hash());
  CHECK_FALSE(a.with_port(0) == c.with_port(0));
  CHECK(a.with_port(5000) == b);
  CHECK(a.with_port(0).to_string() == "10.1.2.3:0");
  const Address v6 = *Address::parse("[2001:db8::1]:9");
  CHECK(v6.with_port(77).to_string() == "[2001:db8::1]:77");
  CHECK(v6.with_port(0) == Address::parse("[2001:db8::1]:10")->with_port(0));
  CHECK_FALSE(v6.with_port(0) == Address::parse("[2001:db8::2]:9")->with_port(0));
  CHECK(Address().with_port(5).empty());
}

TEST_CASE("address: resolve takes numeric literals as they are and a name's IPv4 answer first") {
  CHECK(Address::resolve("10.0.0.1", 7) == Address::parse("10.0.0.1:7"));
  CHECK(Address::resolve("::1", 7) == Address::parse("[::1]:7"));
  // /etc/hosts' localhost, with the port (and the IPv4 one where ::1 is listed too).
  const auto local = Address::resolve("localhost", 7777);
  REQUIRE(local.has_value());
  CHECK(local->family() == AddressFamily::kIpv4);
  CHECK(local->to_string() == "127.0.0.1:7777");
  // RFC 6761: never resolves. No lookup at all for an empty host.
  CHECK_FALSE(Address::resolve("no-such-host.invalid", 7).has_value());
  CHECK_FALSE(Address::resolve("", 7).has_value());
}

TEST_CASE("address: of a name's answers the first IPv4 one is taken, else the first IPv6 one") {
  using volley::engine::detail::pick_address;
  // getaddrinfo lists built by hand: resolvers often sort IPv6 first.
  sockaddr_in v4{};
  v4.sin_family = AF_INET;
  v4.sin_addr.s_addr = htonl(0x0a000001);  // 10.0.0.1
  sockaddr_in6 v6{};
  v6.sin6_family = AF_INET6;
  v6.sin6_addr.s6_addr[0] = 0x20;
  v6.sin6_addr.s6_addr[1] = 0x01;
  v6.sin6_addr.s6_addr[15] = 9;  // 2001::9
  sockaddr_in6 mapped{};
  mapped.sin6_family = AF_INET6;
  mapped.sin6_addr.s6_addr[10] = mapped.sin6_addr.s6_addr[11] = 0xff;
  mapped.sin6_addr.s6_addr[12] = 10;
  mapped.sin6_addr.s6_addr[15] = 3;  // ::ffff:10.0.0.3
  addrinfo a4{}, a6{}, amapped{};
  a4.ai_addr = reinterpret_cast<sockaddr*>(&v4);
  a4.ai_addrlen = sizeof v4;
  a6.ai_addr = reinterpret_cast<sockaddr*>(&v6);
  a6.ai_addrlen = sizeof v6;
  amapped.ai_addr = reinterpret_cast<sockaddr*>(&mapped);
  amapped.ai_addrlen = sizeof mapped;

  CHECK_FALSE(pick_address(nullptr, 1).has_value());
  CHECK(pick_address(&a6, 5)->to_string() == "[2001::9]:5");
  a6.ai_next = &a4;
  CHECK(pick_address(&a6, 5)->to_string() == "10.0.0.1:5");
  a6.ai_next = &amapped;
  amapped.ai_next = &a4;
  CHECK(pick_address(&a6, 5)->to_string() == "10.0.0.3:5");
}
