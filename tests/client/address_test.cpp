// Addresses: the "host:port" syntax, errors as values for malformed, unresolvable and IPv6
// addresses (stock libenet 1.3.17 is IPv4 only), a full host, and the connect timeout against a
// port that never answers.
#include <doctest/doctest.h>

#include <netdb.h>
#include <netinet/in.h>
#include <sys/socket.h>

#include <chrono>
#include <cstring>
#include <string>

#include "loopback.hpp"
#include "resolve.hpp"
#include "support/udp_socket.hpp"
#include "volley/client/address.hpp"
#include "volley/client/host.hpp"

namespace vc = volley::client;

TEST_CASE("address: parse_endpoint accepts host:port forms and rejects the rest") {
  const auto v4 = vc::parse_endpoint("1.2.3.4:7777");
  REQUIRE(v4);
  CHECK(v4->host == "1.2.3.4");
  CHECK(v4->port == 7777);
  CHECK_FALSE(v4->bracketed);
  const auto v6 = vc::parse_endpoint("[::1]:65535");
  REQUIRE(v6);
  CHECK(v6->host == "::1");
  CHECK(v6->port == 65535);
  CHECK(v6->bracketed);
  CHECK(vc::parse_endpoint("localhost:1")->host == "localhost");
  CHECK(vc::parse_endpoint("0.0.0.0:1")->host == "0.0.0.0");
  CHECK(vc::parse_endpoint("255.255.255.255:1")->host == "255.255.255.255");
  CHECK(vc::parse_endpoint("1x.example:1")->host == "1x.example");
  for (const char* bad : {"", "1.2.3.4", "1.2.3.4:", ":7777", "1.2.3.4:0", "1.2.3.4:65536",
                          "1.2.3.4:77x", "1.2.3.4:-1", "::1:7777", "[::1]7777", "[::1:7777",
                          "[]:7777", "a b:7777", "host:7777:1", "[::1]:", "1.2.3.4:+80",
                          "1.2.3.4:123456",
                          // inet_aton's short and odd forms: a mistyped address, not another one
                          "1.2.3:7000", "7:7000", "1.2.3.4.5:7000", "1.2.3.256:7000", "1..3.4:7000",
                          "1.2.3.4.:7000", "0001.2.3.4:7000"}) {
    CAPTURE(bad);
    CHECK_FALSE(vc::parse_endpoint(bad));
  }
}

TEST_CASE("address: connect reports malformed, unresolvable and IPv6 addresses as values") {
  vc::Host host;
  CHECK(host.connect("127.0.0.1").error == vc::ConnectError::kMalformedAddress);
  CHECK(host.connect("[not-an-ip]:7777").error == vc::ConnectError::kMalformedAddress);
  CHECK(host.connect("no-such-host.invalid:7777").error == vc::ConnectError::kUnresolvable);
  CHECK(host.connect("1.2.3.256:7777").error == vc::ConnectError::kMalformedAddress);  // not a dotted quad
  CHECK(host.connect("[::1]:7777").error == vc::ConnectError::kIpv6Unsupported);
  CHECK(host.connection_count() == 0);
  CHECK(vc::connect_error_name(vc::ConnectError::kUnresolvable) == "unresolvable");
  CHECK(vc::connect_error_name(vc::ConnectError::kIpv6Unsupported) == "ipv6_unsupported");
  const std::string_view text = vc::connect_error_text(vc::ConnectError::kIpv6Unsupported);
  CHECK(text.find("IPv6 unsupported") != std::string_view::npos);
  CHECK(text.find("IPv4") != std::string_view::npos);
}

TEST_CASE("address: resolve_address gives what connect would send to, numeric, or connect's error") {
  CHECK(vc::resolve_address("10.1.2.3:7777").numeric == "10.1.2.3:7777");
  CHECK(vc::resolve_address("[::ffff:10.1.2.3]:9").numeric == "10.1.2.3:9");
  const vc::ResolvedAddress local = vc::resolve_address("localhost:65535");
  REQUIRE(local);
  CHECK(local.numeric.ends_with(":65535"));
  // The numeric form reads back as itself: the one lookup is not repeated per connect.
  CHECK(vc::resolve_address(local.numeric).numeric == local.numeric);
  CHECK(vc::resolve_address("127.0.0.1").error == vc::ConnectError::kMalformedAddress);
  CHECK(vc::resolve_address("no-such-host.invalid:7777").error == vc::ConnectError::kUnresolvable);
  CHECK(vc::resolve_address("[::1]:7777").error == vc::ConnectError::kIpv6Unsupported);
  CHECK(vc::resolve_address("[::1]:7777").numeric.empty());
}

TEST_CASE("address: a name with only IPv6 addresses is ipv6_unsupported, not unresolvable") {
  namespace vd = volley::client::detail;
  // getaddrinfo lists built by hand: the choice among families.
  sockaddr_in v4{};
  v4.sin_family = AF_INET;
  v4.sin_addr.s_addr = htonl(0x7f000001);
  sockaddr_in6 v6{};
  v6.sin6_family = AF_INET6;
  v6.sin6_addr.s6_addr[15] = 1;  // ::1
  sockaddr_in6 mapped{};
  mapped.sin6_family = AF_INET6;
  const std::uint8_t mapped_bytes[16] = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff, 10, 1, 2, 3};
  std::memcpy(&mapped.sin6_addr, mapped_bytes, 16);
  addrinfo a4{}, a6{}, amapped{};
  a4.ai_family = AF_INET;
  a4.ai_addr = reinterpret_cast<sockaddr*>(&v4);
  a4.ai_addrlen = sizeof v4;
  a6.ai_family = AF_INET6;
  a6.ai_addr = reinterpret_cast<sockaddr*>(&v6);
  a6.ai_addrlen = sizeof v6;
  amapped.ai_family = AF_INET6;
  amapped.ai_addr = reinterpret_cast<sockaddr*>(&mapped);
  amapped.ai_addrlen = sizeof mapped;

  CHECK(vd::pick_ipv4(nullptr).error == vc::ConnectError::kUnresolvable);
  CHECK(vd::pick_ipv4(&a6).error == vc::ConnectError::kIpv6Unsupported);
  a6.ai_next = &a4;  // IPv6 first (as getaddrinfo often sorts), then IPv4: the IPv4 one
  vd::Resolved r = vd::pick_ipv4(&a6);
  CHECK(r.error == vc::ConnectError::kOk);
  CHECK(r.ipv4 == htonl(0x7f000001));
  a6.ai_next = &amapped;
  r = vd::pick_ipv4(&a6);
  CHECK(r.error == vc::ConnectError::kOk);
  CHECK(r.ipv4 == htonl(0x0a010203));

  // The real resolver, without DNS: numeric answers of each family, and /etc/hosts' localhost.
  CHECK(vd::resolve_ipv4("::1").error == vc::ConnectError::kIpv6Unsupported);
  CHECK(vd::resolve_ipv4("2001:db8::7").error == vc::ConnectError::kIpv6Unsupported);
  r = vd::resolve_ipv4("10.1.2.3");
  CHECK(r.error == vc::ConnectError::kOk);
  CHECK(r.ipv4 == htonl(0x0a010203));
  CHECK(vd::resolve_ipv4("localhost").error == vc::ConnectError::kOk);
  CHECK(vd::resolve_ipv4("no-such-host.invalid").error == vc::ConnectError::kUnresolvable);
}

TEST_CASE("address: names and v4-mapped IPv6 resolve - a full host says so") {
  volley::test::UdpSocket silent("127.0.0.1");
  vc::HostOptions options;
  options.max_connections = 2;
  vc::Host host(options);
  const std::string port = std::to_string(silent.port());
  CHECK(host.connect("localhost:" + port));
  CHECK(host.connect("[::ffff:127.0.0.1]:" + port));
  CHECK(host.connect("127.0.0.1:" + port).error == vc::ConnectError::kNoFreeSlot);
  CHECK(host.connection_count() == 2);
  // The silent socket saw ENet CONNECT datagrams.
  host.flush();
  CHECK(silent.receive(2000));
}

TEST_CASE("address: the connect timeout fires against a silent port") {
  volley::test::UdpSocket silent("127.0.0.1");
  vc::HostOptions options;
  options.connect_timeout = 300 * volley::kMillisecond;
  vc::Host host(options);
  const auto started = std::chrono::steady_clock::now();
  const vc::ConnectResult result = host.connect("127.0.0.1:" + std::to_string(silent.port()), 5);
  REQUIRE(result);
  vc::test::ClientLog log;
  REQUIRE(vc::test::pump(host, log, nullptr, [&] { return !log.events.empty(); }, std::chrono::seconds(5)));
  const auto took = std::chrono::steady_clock::now() - started;
  REQUIRE(log.events.size() == 1);
  CHECK(log.events[0].type == vc::EventType::kDisconnected);
  CHECK(log.events[0].connection == result.connection);
  CHECK(log.events[0].reason == volley::DisconnectReason::kTimeout);
  CHECK(took >= std::chrono::milliseconds(300));
  CHECK(took < std::chrono::milliseconds(3000));
  CHECK(host.connection_count() == 0);
  // A stale handle does nothing.
  host.disconnect(result.connection);
  vc::Event event;
  CHECK_FALSE(host.poll(event));
}

TEST_CASE("address: a long poll wait does not sleep past the connect timeout") {
  volley::test::UdpSocket silent("127.0.0.1");
  vc::HostOptions options;
  options.connect_timeout = 200 * volley::kMillisecond;
  vc::Host host(options);
  const auto started = std::chrono::steady_clock::now();
  const vc::ConnectResult result = host.connect("127.0.0.1:" + std::to_string(silent.port()));
  REQUIRE(result);
  vc::Event event;
  bool got = false;
  for (int i = 0; i < 3 && !got; ++i) got = host.poll(event, 5000);
  const auto took = std::chrono::steady_clock::now() - started;
  REQUIRE(got);
  CHECK(event.type == vc::EventType::kDisconnected);
  CHECK(event.reason == volley::DisconnectReason::kTimeout);
  CHECK(took < std::chrono::milliseconds(2000));
}
