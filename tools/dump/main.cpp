// volley-dump: prints every ENet datagram of a capture (or of hex lines on stdin) as one JSON
// object per line, decoded by Volley's wire codec. Contract: shared docs/DESIGN.md
// "volley-dump"; usage and capture recipes: tools/dump/README.md.
#include <cstdio>
#include <iostream>
#include <optional>
#include <string>
#include <vector>

#include "datagram_dump.hpp"
#include "gso_split.hpp"
#include "hex_input.hpp"
#include "options.hpp"
#include "pcap_reader.hpp"

namespace {

using namespace volley::tools;

constexpr int kExitOk = 0;
constexpr int kExitDamagedInput = 1;
constexpr int kExitUsage = 2;

void emit(const std::string& line) {
  std::fwrite(line.data(), 1, line.size(), stdout);
  std::fputc('\n', stdout);
}

std::string format_time(std::int64_t seconds, std::int64_t microseconds) {
  char text[48];
  std::snprintf(text, sizeof text, "%lld.%06lld", static_cast<long long>(seconds),
                static_cast<long long>(microseconds));
  return text;
}

int dump_pcap(const DumpOptions& options) {
  std::string error;
  const auto reader = PcapReader::open(*options.pcap_path, error);
  if (!reader) {
    std::fprintf(stderr, "volley-dump: cannot read %s: %s\n", options.pcap_path->c_str(), error.c_str());
    return kExitUsage;
  }
  DatagramDumper dumper(options.checksum);
  std::size_t index = 0;
  while (const auto record = reader->next()) {
    const FrameParse parsed = parse_frame(reader->link_type(), record->frame);
    if (!parsed.datagram) continue;  // not UDP: captures filtered by port still hold ARP etc.
    const UdpDatagram& udp = *parsed.datagram;
    if (options.port && udp.src.port != *options.port && udp.dst.port != *options.port) continue;
    DatagramOrigin origin;
    origin.time = format_time(record->seconds, record->microseconds);
    origin.src = udp.src;
    origin.dst = udp.dst;
    origin.capture_truncated = udp.truncated;
    // A truncated packet's run cannot be checked to its end: shown whole, as captured.
    const std::optional<std::size_t> segment =
        udp.truncated ? std::nullopt : gso_segment_size(udp.payload, options.checksum);
    if (!segment) {
      origin.index = ++index;
      emit(dumper.dump(origin, udp.payload));
      continue;
    }
    origin.gso_segments = gso_piece_count(udp.payload, *segment);
    for (std::size_t i = 0; i < origin.gso_segments; ++i) {
      origin.index = ++index;
      origin.gso_segment = i + 1;
      emit(dumper.dump(origin, gso_piece(udp.payload, *segment, i)));
    }
  }
  std::fflush(stdout);
  if (!reader->error().empty()) {
    std::fprintf(stderr, "volley-dump: %s: damaged capture after %zu datagrams: %s\n",
                 options.pcap_path->c_str(), index, reader->error().c_str());
    return kExitDamagedInput;
  }
  return kExitOk;
}

int dump_hex(const DumpOptions& options) {
  DatagramDumper dumper(options.checksum);
  std::string line;
  std::vector<std::uint8_t> bytes;
  std::size_t index = 0;
  std::size_t line_number = 0;
  while (std::getline(std::cin, line)) {
    ++line_number;
    const HexLine kind = parse_hex_line(line, bytes);
    if (kind == HexLine::kBlank) continue;
    DatagramOrigin origin;
    origin.index = ++index;
    origin.line = line_number;
    if (kind == HexLine::kBad) {
      JsonWriter json;
      json.begin_object()
          .field("index", std::uint64_t{origin.index})
          .field("line", std::uint64_t{line_number})
          .field("error", "bad_hex")
          .begin_array("commands")
          .end_array()
          .end_object();
      emit(json.str());
      continue;
    }
    emit(dumper.dump(origin, bytes));
  }
  std::fflush(stdout);
  return kExitOk;
}

}  // namespace

int main(int argc, char** argv) {
  const ParsedDumpOptions parsed =
      parse_dump_options(std::span<const char* const>(argv + 1, static_cast<std::size_t>(argc - 1)));
  if (!parsed.options) {
    std::fprintf(stderr, "volley-dump: %s\n", parsed.error.c_str());
    return kExitUsage;
  }
  const DumpOptions& options = *parsed.options;
  if (options.help) {
    std::fputs(kDumpUsage, stdout);
    return kExitOk;
  }
  return options.pcap_path ? dump_pcap(options) : dump_hex(options);
}
