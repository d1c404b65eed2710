// volley-dump's command line. Parsing is separate from main so that tests can check the error
// paths (every bad flag must become one line on stderr and exit code 2).
#pragma once

#include <cstdint>
#include <optional>
#include <span>
#include <string>

namespace volley::tools {

struct DumpOptions {
  std::optional<std::string> pcap_path;  // absent: hex lines on stdin
  std::optional<std::uint16_t> port;     // keep UDP datagrams to or from this port
  bool checksum = false;                 // datagrams carry ENet's CRC32 slot
  bool range_coder = false;              // the session uses the range coder (informational)
  bool help = false;
};

struct ParsedDumpOptions {
  std::optional<DumpOptions> options;
  std::string error;  // one line, when options is empty
};

ParsedDumpOptions parse_dump_options(std::span<const char* const> args);

extern const char* const kDumpUsage;

}  // namespace volley::tools
