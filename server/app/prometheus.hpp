// The Prometheus text exposition format (version 0.0.4) of a ServerStats: what volley-server
// serves at /metrics (docs/server.md lists the names). A pure function of its inputs, so an
// embedder with its own HTTP stack can serve the same text, and the tests check it directly.
#pragma once

#include <cstdint>
#include <string>

#include "volley/server/server.hpp"
#include "volley/support/process_cpu.hpp"

namespace volley::server::app {

struct ProcessFigures {
  support::CpuTimes cpu;
  std::uint64_t rss_bytes = 0;
  double start_time_s = 0;  // Unix time the server started (its operations endpoint, in practice)
};

std::string prometheus_text(const ServerStats& stats, const ProcessFigures& process);

}  // namespace volley::server::app
