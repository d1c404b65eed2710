// Writing UDP datagrams to a pcap file as if tcpdump had seen them on the loopback interface:
// each payload gets a synthesized IPv4 + UDP header (real addresses and ports, valid checksums)
// and, for the Ethernet link type, the all-zero MAC header Linux puts on `lo` frames.
#pragma once

#include <cstdint>
#include <span>
#include <string>
#include <vector>

namespace volley::tools {

enum class CaptureLink { kEthernet, kRaw };

struct Ipv4Endpoint {
  std::uint32_t address = 0;  // host byte order, e.g. 0x7F000001
  std::uint16_t port = 0;
};

// The frame bytes for one UDP datagram (link header + IPv4 + UDP + payload).
std::vector<std::uint8_t> build_udp_frame(CaptureLink link, Ipv4Endpoint src, Ipv4Endpoint dst,
                                          std::uint16_t ip_id, std::span<const std::uint8_t> payload);

struct CapturedDatagram {
  std::int64_t seconds = 0;
  std::int64_t microseconds = 0;
  Ipv4Endpoint src;
  Ipv4Endpoint dst;
  std::vector<std::uint8_t> payload;
};

// Writes all datagrams to `path`; false with `error` (naming the file) set when it cannot be
// written.
bool write_pcap(const std::string& path, CaptureLink link, const std::vector<CapturedDatagram>& datagrams,
                std::string& error);

}  // namespace volley::tools
