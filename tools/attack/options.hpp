// volley-flood's flags (docs/attacks.md). Parsing is apart from main so the tests reach every error.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

namespace volley::attack {

enum class FloodMode : std::uint8_t { kConnect, kGarbage };

struct Options {
  std::string server;        // numeric IPv4 ADDR:PORT
  std::uint32_t server_ip = 0;  // host byte order
  std::uint16_t server_port = 0;
  FloodMode mode = FloodMode::kConnect;
  double rate = 100000;      // datagrams per second; 0 = as fast as the sockets take them
  double seconds = 10;
  std::uint32_t sources = 256;  // forged sockets open at once
  std::uint32_t rotate = 64;    // datagrams from one forged source before it is replaced
  std::string corpus;           // garbage: directory of real datagrams (seed-* files)
  std::uint32_t sessions = 8;   // garbage: real connections whose headers the garbage carries
  double session_share = 0.25;  // garbage: share of datagrams sent through those connections
  std::uint64_t seed = 1;
  std::string report_json;
};

struct Parsed {
  Options options;
  std::string error;  // one line
  std::string help;   // set when --help was given
};

Parsed parse_options(const std::vector<std::string>& args);

}  // namespace volley::attack
