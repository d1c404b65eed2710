// volley-bots' command line (the DESIGN.md contract plus tuning flags), parsed with CLI11 into
// a plain value. Every problem is one line; main exits 2.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

#include "swarm.hpp"

namespace volley::bots {

struct Options {
  std::string server;  // HOST:PORT
  std::string engine = "enet";
  std::string behavior = "echo";
  std::size_t sockets = 0;  // 0: one per 4,000 bots (game on enet: one per 128)
  double seconds = 10;
  double drain_s = 3;  // at most this long for the last echoes and chat lines after --seconds
  bool progress = false;
  std::string report_json, report_html;
  SwarmConfig swarm;
  // Every bot's peer timeouts (enet_peer_timeout; 0 = libenet's 32, 5000, 30000) and, on
  // --engine volley only, the resend interval cap (PeerConfig::rto_cap_ms; libenet has none).
  std::uint32_t timeout_limit = 0, timeout_minimum_ms = 0, timeout_maximum_ms = 0, rto_cap_ms = 0;
  // --engine volley only: how often the swarm takes its turn (sends what is due, checks). Sends
  // leave in bursts of rate x step; game clients on their own machines send spread out.
  std::uint32_t step_us = 1000;
  bool help = false;
};

struct Parsed {
  Options options;
  std::string error;  // one line; empty on success
  std::string help;   // --help text
  std::string version;  // --version: the line to print
};

Parsed parse_options(const std::vector<std::string>& args);

}  // namespace volley::bots
