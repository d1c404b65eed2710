// From a captured link-layer frame to the UDP datagram inside it: the link types tcpdump writes
// on Linux (Ethernet for `-i lo`, Linux cooked v1/v2 for `-i any`), raw IP, and BSD loopback;
// then IPv4 or IPv6, then UDP. Pure functions over bytes: every offset is bounds-checked.
#pragma once

#include <array>
#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <string_view>

namespace volley::tools {

using ByteView = std::span<const std::uint8_t>;

enum class LinkType { kEthernet, kLinuxSll, kLinuxSll2, kRaw, kNull, kLoop };

// libpcap DLT_* value to a supported link type; nullopt for anything else.
std::optional<LinkType> link_type_from_dlt(int dlt) noexcept;
std::string_view link_type_name(LinkType type) noexcept;

struct Endpoint {
  bool v6 = false;
  std::array<std::uint8_t, 16> address{};  // IPv4 uses the first 4 bytes
  std::uint16_t port = 0;

  friend bool operator==(const Endpoint&, const Endpoint&) = default;
  friend auto operator<=>(const Endpoint&, const Endpoint&) = default;
};

// "127.0.0.1:7777" or "[::1]:7777".
std::string to_string(const Endpoint& endpoint);

struct UdpDatagram {
  Endpoint src;
  Endpoint dst;
  ByteView payload;
  // The capture holds fewer payload bytes than the UDP header announces (snap length, or a
  // first IP fragment): the payload is what there is.
  bool truncated = false;
};

enum class SkipReason {
  kNotIp,          // ARP, an unknown ethertype or address family
  kNotUdp,         // TCP, ICMP, ...
  kMalformed,      // a header that does not fit or contradicts itself
  kLaterFragment,  // an IP fragment other than the first: no UDP header to read
};
std::string_view skip_reason_name(SkipReason reason) noexcept;

struct FrameParse {
  std::optional<UdpDatagram> datagram;
  SkipReason skipped = SkipReason::kNotIp;  // meaningful when datagram is empty
};

// `frame` is what the capture holds (caplen bytes).
FrameParse parse_frame(LinkType link, ByteView frame) noexcept;

// IP packet (version taken from its first nibble) to UDP.
FrameParse parse_ip(ByteView packet) noexcept;

}  // namespace volley::tools
