// volley-server command line (DESIGN.md "volley-server" contract): parsing and validation into
// a plain Options value. Every problem is reported as one line; the caller exits with code 2.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "volley/server/server.hpp"

namespace volley::server::app {

enum class Mode : std::uint8_t { kEcho, kDemo };
enum class LogLevel : std::uint8_t { kError, kWarn, kInfo, kDebug };

struct Options {
  Mode mode = Mode::kEcho;
  Config server;
  double tick_hz = 30;
  std::size_t entities = 256;  // demo mode: the demo scene's entities
  std::uint64_t seed = 1;      // demo mode: the demo scene's seed
  double view_cell = 0;        // demo mode: interest grid cell in metres (0 = all visible)
  std::optional<double> seconds;
  std::string stats_json;
  LogLevel log_level = LogLevel::kInfo;
  double status_interval_s = 5;  // 0 = off
  std::string metrics;          // --metrics ADDR:PORT: /metrics, /healthz, /readyz; empty = off
  double drain_seconds = 30;    // SIGTERM: serve connected peers this long at most
  bool agones = false;
  double agones_health_interval_s = 2;
  bool help = false;
  bool bind_given = false;  // else "::", falling back to 0.0.0.0 without IPv6
};

struct Parsed {
  Options options;
  std::string error;    // one line; empty on success
  std::string version;  // --version: the line to print
  std::vector<std::string> undocumented;  // declared flags usage() leaves out (tests: none)
};

Parsed parse_flags(const std::vector<std::string>& args);
// "" when `text` is ADDR:PORT with a numeric IPv4 address or a bracketed IPv6 one; else why not.
std::string check_listen_address(const std::string& text);
std::string usage();

}  // namespace volley::server::app
