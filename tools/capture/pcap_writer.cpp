// pcap output through libpcap's own writer (pcap_open_dead + pcap_dump), so the files are exactly
// what other libpcap tools expect. Checksums are computed rather than left zero so that
// Wireshark shows the capture without warnings.
#include "pcap_writer.hpp"

#include <pcap/pcap.h>

#include <algorithm>

#include "volley/protocol/byte_io.hpp"

namespace volley::tools {
namespace {

constexpr std::size_t kEthernetHeader = 14;
constexpr std::size_t kIpv4Header = 20;
constexpr std::size_t kUdpHeader = 8;
constexpr std::uint8_t kProtoUdp = 17;
constexpr int kSnapLength = 65535;

void put16(std::vector<std::uint8_t>& out, std::size_t at, std::uint32_t v) {
  protocol::store_be16(out, at, static_cast<std::uint16_t>(v));
}

void put32(std::vector<std::uint8_t>& out, std::size_t at, std::uint32_t v) { protocol::store_be32(out, at, v); }

// RFC 1071 ones' complement sum over big-endian 16-bit words.
std::uint32_t sum_words(std::span<const std::uint8_t> bytes, std::uint32_t sum) {
  for (std::size_t i = 0; i + 1 < bytes.size(); i += 2) sum += protocol::load_be16(bytes, i);
  if (bytes.size() % 2 != 0) sum += std::uint32_t{bytes.back()} << 8;
  return sum;
}

std::uint16_t fold(std::uint32_t sum) {
  while (sum >> 16) sum = (sum & 0xFFFF) + (sum >> 16);
  return static_cast<std::uint16_t>(~sum);
}

}  // namespace

std::vector<std::uint8_t> build_udp_frame(CaptureLink link, Ipv4Endpoint src, Ipv4Endpoint dst,
                                          std::uint16_t ip_id, std::span<const std::uint8_t> payload) {
  const std::size_t link_size = link == CaptureLink::kEthernet ? kEthernetHeader : 0;
  const std::size_t udp_length = kUdpHeader + payload.size();
  const std::size_t ip_length = kIpv4Header + udp_length;
  std::vector<std::uint8_t> frame(link_size + ip_length, 0);
  if (link == CaptureLink::kEthernet) put16(frame, 12, 0x0800);  // loopback MACs are zero

  const std::size_t ip = link_size;
  frame[ip] = 0x45;
  put16(frame, ip + 2, static_cast<std::uint32_t>(ip_length));
  put16(frame, ip + 4, ip_id);
  put16(frame, ip + 6, 0x4000);  // don't fragment, as Linux sends UDP on lo
  frame[ip + 8] = 64;
  frame[ip + 9] = kProtoUdp;
  put32(frame, ip + 12, src.address);
  put32(frame, ip + 16, dst.address);
  put16(frame, ip + 10, fold(sum_words(std::span(frame).subspan(ip, kIpv4Header), 0)));

  const std::size_t udp = ip + kIpv4Header;
  put16(frame, udp, src.port);
  put16(frame, udp + 2, dst.port);
  put16(frame, udp + 4, static_cast<std::uint32_t>(udp_length));
  std::copy(payload.begin(), payload.end(), frame.begin() + static_cast<std::ptrdiff_t>(udp + kUdpHeader));
  // The UDP checksum covers a pseudo-header of addresses, protocol and length.
  std::uint32_t pseudo = (src.address >> 16) + (src.address & 0xFFFF) + (dst.address >> 16) +
                         (dst.address & 0xFFFF) + kProtoUdp + static_cast<std::uint32_t>(udp_length);
  std::uint16_t checksum = fold(sum_words(std::span(frame).subspan(udp), pseudo));
  if (checksum == 0) checksum = 0xFFFF;  // zero would mean "no checksum"
  put16(frame, udp + 6, checksum);
  return frame;
}

bool write_pcap(const std::string& path, CaptureLink link, const std::vector<CapturedDatagram>& datagrams,
                std::string& error) {
  pcap_t* dead = pcap_open_dead(link == CaptureLink::kEthernet ? DLT_EN10MB : DLT_RAW, kSnapLength);
  if (dead == nullptr) {
    error = "cannot write " + path + ": pcap_open_dead failed";
    return false;
  }
  pcap_dumper_t* dumper = pcap_dump_open(dead, path.c_str());
  if (dumper == nullptr) {
    error = pcap_geterr(dead);
    pcap_close(dead);
    return false;
  }
  std::uint16_t ip_id = 1;
  for (const CapturedDatagram& d : datagrams) {
    const std::vector<std::uint8_t> frame = build_udp_frame(link, d.src, d.dst, ip_id++, d.payload);
    pcap_pkthdr header{};
    header.ts.tv_sec = static_cast<decltype(header.ts.tv_sec)>(d.seconds);
    header.ts.tv_usec = static_cast<decltype(header.ts.tv_usec)>(d.microseconds);
    header.caplen = static_cast<bpf_u_int32>(frame.size());
    header.len = static_cast<bpf_u_int32>(frame.size());
    pcap_dump(reinterpret_cast<u_char*>(dumper), &header, frame.data());
  }
  const bool flushed = pcap_dump_flush(dumper) == 0;
  pcap_dump_close(dumper);
  pcap_close(dead);
  if (!flushed) error = "cannot write " + path;
  return flushed;
}

}  // namespace volley::tools
