// Link layer -> IP -> UDP. Captures come from machines we do not control, so every length field
// is checked against the bytes actually present before it is trusted.
#include "packet_parse.hpp"

#include <arpa/inet.h>
#include <pcap/dlt.h>

#include "volley/protocol/byte_io.hpp"

namespace volley::tools {
namespace {

constexpr std::uint16_t kEtherIpv4 = 0x0800;
constexpr std::uint16_t kEtherIpv6 = 0x86DD;
constexpr std::uint16_t kEtherVlan = 0x8100;
constexpr std::uint16_t kEtherQinQ = 0x88A8;
constexpr std::uint16_t kEtherVlanOld = 0x9100;
constexpr int kMaxVlanTags = 2;
constexpr std::size_t kEthernetHeader = 14;
constexpr std::size_t kSllHeader = 16;
constexpr std::size_t kSll2Header = 20;
constexpr std::size_t kNullHeader = 4;
constexpr std::size_t kIpv4MinHeader = 20;
constexpr std::size_t kIpv6Header = 40;
constexpr std::size_t kUdpHeader = 8;
constexpr std::uint8_t kProtoUdp = 17;
constexpr int kMaxIpv6Extensions = 8;

// BSD loopback address families: AF_INET is 2 everywhere, AF_INET6 differs per OS.
constexpr std::uint32_t kFamilyInet = 2;
constexpr std::uint32_t kFamilyInet6Linux = 10;
constexpr std::uint32_t kFamilyInet6Bsd = 24;
constexpr std::uint32_t kFamilyInet6FreeBsd = 28;
constexpr std::uint32_t kFamilyInet6Darwin = 30;

constexpr auto be16 = protocol::load_be16;  // every caller has checked the length first
constexpr auto be32 = protocol::load_be32;

FrameParse skip(SkipReason reason) noexcept { return FrameParse{std::nullopt, reason}; }

FrameParse by_ethertype(std::uint16_t type, ByteView rest) noexcept {
  if (type == kEtherIpv4 || type == kEtherIpv6) return parse_ip(rest);
  return skip(SkipReason::kNotIp);
}

FrameParse by_family(std::uint32_t family, ByteView rest) noexcept {
  switch (family) {
    case kFamilyInet:
    case kFamilyInet6Linux:
    case kFamilyInet6Bsd:
    case kFamilyInet6FreeBsd:
    case kFamilyInet6Darwin:
      return parse_ip(rest);
    default:
      return skip(SkipReason::kNotIp);
  }
}

FrameParse parse_ethernet(ByteView frame) noexcept {
  if (frame.size() < kEthernetHeader) return skip(SkipReason::kMalformed);
  std::size_t at = 12;
  std::uint16_t type = be16(frame, at);
  for (int tags = 0; tags < kMaxVlanTags && (type == kEtherVlan || type == kEtherQinQ ||
                                             type == kEtherVlanOld);
       ++tags) {
    at += 4;
    if (frame.size() < at + 2) return skip(SkipReason::kMalformed);
    type = be16(frame, at);
  }
  return by_ethertype(type, frame.subspan(at + 2));
}

FrameParse parse_udp(Endpoint src, Endpoint dst, ByteView segment, bool ip_truncated) noexcept {
  if (segment.size() < kUdpHeader) return skip(SkipReason::kMalformed);
  src.port = be16(segment, 0);
  dst.port = be16(segment, 2);
  const std::size_t udp_length = be16(segment, 4);
  if (udp_length < kUdpHeader) return skip(SkipReason::kMalformed);
  UdpDatagram datagram{src, dst, segment.subspan(kUdpHeader), ip_truncated};
  const std::size_t announced = udp_length - kUdpHeader;
  if (announced < datagram.payload.size()) {
    datagram.payload = datagram.payload.first(announced);
  } else if (announced > datagram.payload.size()) {
    datagram.truncated = true;
  }
  return FrameParse{datagram, SkipReason::kNotIp};
}

FrameParse parse_ipv4(ByteView packet) noexcept {
  if (packet.size() < kIpv4MinHeader) return skip(SkipReason::kMalformed);
  const std::size_t header = std::size_t{packet[0] & 0x0Fu} * 4;
  if (header < kIpv4MinHeader || header > packet.size()) return skip(SkipReason::kMalformed);
  const std::size_t total = be16(packet, 2);
  if (total < header) return skip(SkipReason::kMalformed);
  bool truncated = false;
  // Ethernet pads short frames: the IP total length, not the frame, says where data ends.
  if (total <= packet.size()) {
    packet = packet.first(total);
  } else {
    truncated = true;
  }
  if (packet[9] != kProtoUdp) return skip(SkipReason::kNotUdp);
  const std::uint16_t fragment = be16(packet, 6);
  if ((fragment & 0x1FFF) != 0) return skip(SkipReason::kLaterFragment);
  if ((fragment & 0x2000) != 0) truncated = true;  // first of several fragments

  Endpoint src;
  Endpoint dst;
  for (std::size_t i = 0; i < 4; ++i) {
    src.address[i] = packet[12 + i];
    dst.address[i] = packet[16 + i];
  }
  return parse_udp(src, dst, packet.subspan(header), truncated);
}

FrameParse parse_ipv6(ByteView packet) noexcept {
  if (packet.size() < kIpv6Header) return skip(SkipReason::kMalformed);
  Endpoint src;
  Endpoint dst;
  src.v6 = dst.v6 = true;
  for (std::size_t i = 0; i < 16; ++i) {
    src.address[i] = packet[8 + i];
    dst.address[i] = packet[24 + i];
  }
  const std::size_t payload_length = be16(packet, 4);
  ByteView rest = packet.subspan(kIpv6Header);
  bool truncated = false;
  // A zero payload length means a jumbogram (hop-by-hop option): take what was captured.
  if (payload_length != 0) {
    if (payload_length <= rest.size()) {
      rest = rest.first(payload_length);
    } else {
      truncated = true;
    }
  }
  std::uint8_t next = packet[6];
  for (int hops = 0; next != kProtoUdp; ++hops) {
    if (hops >= kMaxIpv6Extensions) return skip(SkipReason::kMalformed);
    std::size_t length = 0;
    switch (next) {
      case 0:   // hop-by-hop options
      case 43:  // routing
      case 60:  // destination options
        if (rest.size() < 2) return skip(SkipReason::kMalformed);
        length = (std::size_t{rest[1]} + 1) * 8;
        break;
      case 44: {  // fragment
        if (rest.size() < 8) return skip(SkipReason::kMalformed);
        const std::uint16_t offset_flags = be16(rest, 2);
        if ((offset_flags & 0xFFF8) != 0) return skip(SkipReason::kLaterFragment);
        if ((offset_flags & 1) != 0) truncated = true;
        length = 8;
        break;
      }
      case 51:  // authentication header
        if (rest.size() < 2) return skip(SkipReason::kMalformed);
        length = (std::size_t{rest[1]} + 2) * 4;
        break;
      default:
        return skip(SkipReason::kNotUdp);
    }
    if (length > rest.size()) return skip(SkipReason::kMalformed);
    next = rest[0];
    rest = rest.subspan(length);
  }
  return parse_udp(src, dst, rest, truncated);
}

}  // namespace

std::optional<LinkType> link_type_from_dlt(int dlt) noexcept {
  switch (dlt) {
    case DLT_EN10MB:
      return LinkType::kEthernet;
    case DLT_LINUX_SLL:
      return LinkType::kLinuxSll;
#ifdef DLT_LINUX_SLL2
    case DLT_LINUX_SLL2:
      return LinkType::kLinuxSll2;
#endif
    case DLT_RAW:
#ifdef DLT_IPV4
    case DLT_IPV4:
    case DLT_IPV6:
#endif
      return LinkType::kRaw;
    case DLT_NULL:
      return LinkType::kNull;
    case DLT_LOOP:
      return LinkType::kLoop;
    default:
      return std::nullopt;
  }
}

std::string_view link_type_name(LinkType type) noexcept {
  switch (type) {
    case LinkType::kEthernet:
      return "EN10MB";
    case LinkType::kLinuxSll:
      return "LINUX_SLL";
    case LinkType::kLinuxSll2:
      return "LINUX_SLL2";
    case LinkType::kRaw:
      return "RAW";
    case LinkType::kNull:
      return "NULL";
    case LinkType::kLoop:
      return "LOOP";
  }
  return "?";
}

std::string_view skip_reason_name(SkipReason reason) noexcept {
  switch (reason) {
    case SkipReason::kNotIp:
      return "not_ip";
    case SkipReason::kNotUdp:
      return "not_udp";
    case SkipReason::kMalformed:
      return "malformed";
    case SkipReason::kLaterFragment:
      return "later_fragment";
  }
  return "?";
}

std::string to_string(const Endpoint& endpoint) {
  char text[INET6_ADDRSTRLEN] = {};
  inet_ntop(endpoint.v6 ? AF_INET6 : AF_INET, endpoint.address.data(), text, sizeof text);
  std::string out = endpoint.v6 ? "[" + std::string(text) + "]" : std::string(text);
  out += ':';
  out += std::to_string(endpoint.port);
  return out;
}

FrameParse parse_ip(ByteView packet) noexcept {
  if (packet.empty()) return skip(SkipReason::kMalformed);
  switch (packet[0] >> 4) {
    case 4:
      return parse_ipv4(packet);
    case 6:
      return parse_ipv6(packet);
    default:
      return skip(SkipReason::kNotIp);
  }
}

FrameParse parse_frame(LinkType link, ByteView frame) noexcept {
  switch (link) {
    case LinkType::kEthernet:
      return parse_ethernet(frame);
    case LinkType::kLinuxSll:
      if (frame.size() < kSllHeader) return skip(SkipReason::kMalformed);
      return by_ethertype(be16(frame, 14), frame.subspan(kSllHeader));
    case LinkType::kLinuxSll2:
      if (frame.size() < kSll2Header) return skip(SkipReason::kMalformed);
      return by_ethertype(be16(frame, 0), frame.subspan(kSll2Header));
    case LinkType::kRaw:
      return parse_ip(frame);
    case LinkType::kNull: {
      if (frame.size() < kNullHeader) return skip(SkipReason::kMalformed);
      // Written in the capturing machine's byte order, which the file does not record.
      const std::uint32_t big = be32(frame, 0);
      const std::uint32_t little = (big >> 24) | ((big >> 8) & 0xFF00) | ((big << 8) & 0xFF0000) |
                                   (big << 24);
      const FrameParse as_big = by_family(big, frame.subspan(kNullHeader));
      if (as_big.datagram || as_big.skipped != SkipReason::kNotIp) return as_big;
      return by_family(little, frame.subspan(kNullHeader));
    }
    case LinkType::kLoop:
      if (frame.size() < kNullHeader) return skip(SkipReason::kMalformed);
      return by_family(be32(frame, 0), frame.subspan(kNullHeader));
  }
  return skip(SkipReason::kNotIp);
}

}  // namespace volley::tools
