// What volley-server reports: the stats JSON object of the DESIGN.md contract (written once at
// exit) and the periodic one-line status on stderr. CPU times come from the process itself
// (volley::support::process_cpu); the JSON from volley::support::JsonWriter.
#pragma once

#include <cstdint>
#include <string>
#include <utility>
#include <vector>

#include "volley/server/server.hpp"
#include "volley/support/process_cpu.hpp"

namespace volley::server::app {

using support::CpuTimes;
using support::process_cpu;

// `extra`: the mode's own figures (the demo game's counters), after the server's.
using Figures = std::vector<std::pair<std::string, std::uint64_t>>;
std::string stats_json(const ServerStats& stats, const CpuTimes& cpu, const Server& server,
                       const Figures& extra = {});
// Writes `text` to `path` through a temporary file and a rename, so a reader never sees half.
bool write_file(const std::string& path, const std::string& text, std::string& error);

// Rates since the previous call (the first: since the construction, at time 0 with `cpu` used
// so far): "status peers=… pps_in=… pps_out=… cpu=…%".
class StatusLine {
 public:
  explicit StatusLine(const CpuTimes& cpu_at_start) : last_cpu_(cpu_at_start.total_s()) {}
  std::string next(const ServerStats& stats, double now_s, const CpuTimes& cpu);

 private:
  double last_s_ = 0;
  double last_cpu_ = 0;
  std::uint64_t last_in_ = 0;
  std::uint64_t last_out_ = 0;
};

}  // namespace volley::server::app
