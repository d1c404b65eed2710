// volley-netsim's command line. Every impairment flag exists three times: `--X` sets both
// directions, `--up-X` (client to server) and `--down-X` (server to client) override it for one
// direction, whatever their order on the command line. Parsing is separate from main so tests
// reach every error path (one line, exit code 2).
#pragma once

#include <cstdint>
#include <optional>
#include <span>
#include <string>

#include "volley/engine/loop.hpp"
#include "volley/netsim/link.hpp"

namespace volley::netsim {

struct NetsimOptions {
  engine::Address listen;
  engine::Address upstream;
  Impairment up;    // client -> server
  Impairment down;  // server -> client
  std::uint64_t seed = 1;
  double seconds = 0;             // 0: until SIGINT/SIGTERM
  std::string report_json;        // empty: no JSON file
  std::size_t max_clients = 10000;
  double idle_timeout_s = 60;     // a client address silent this long (both ways) is forgotten
  engine::Backend backend = engine::Backend::kAuto;
  bool help = false;
};

struct ParsedNetsimOptions {
  std::optional<NetsimOptions> options;
  std::string error;  // one line, when options is empty
};

ParsedNetsimOptions parse_netsim_options(std::span<const std::string> args);

extern const char* const kNetsimUsage;

}  // namespace volley::netsim
