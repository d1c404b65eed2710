// Stats JSON and status line formatting for volley-server.
#include "report.hpp"

#include <cstdio>
#include <fstream>

#include "volley/server/version.hpp"
#include "volley/support/json_writer.hpp"

namespace volley::server::app {

// One member per line, `"key": value`: the layout scripts and tests grep.
std::string stats_json(const ServerStats& s, const CpuTimes& cpu, const Server& server,
                       const Figures& extra) {
  support::JsonWriter json(support::JsonWriter::Layout::kIndented);
  json.begin_object()
      .field("connects", s.connects)
      .field("disconnects", s.disconnects)
      .field("timeouts", s.timeouts)
      .field("packets_in", s.packets_in)
      .field("packets_out", s.packets_out)
      .field("bytes_in", s.bytes_in)
      .field("bytes_out", s.bytes_out)
      .field("datagrams_in", s.datagrams_in)
      .field("datagrams_out", s.datagrams_out)
      .field("bad_datagrams", s.bad_datagrams)
      .field("peers_peak", s.peers_peak)
      .field("peers_now", s.peers_now);
  for (const auto& [key, value] : s.details) json.field(key, value);
  for (const auto& [key, value] : extra) json.field(key, value);
  json.number("cpu_user_s", cpu.user_s, "%.6f")
      .number("cpu_sys_s", cpu.sys_s, "%.6f")
      .field("backend_note", server.backend_note())
      .field("backend", server.backend())
      .field("version", volley::server::version_number())
      .end_object();
  return json.str() + "\n";
}

bool write_file(const std::string& path, const std::string& text, std::string& error) {
  const std::string temp = path + ".tmp";
  {
    std::ofstream file(temp, std::ios::binary | std::ios::trunc);
    if (!file) {
      error = "cannot write '" + temp + "'";
      return false;
    }
    file << text;
    if (!file.flush()) {
      error = "cannot write '" + temp + "'";
      return false;
    }
  }
  if (std::rename(temp.c_str(), path.c_str()) != 0) {
    std::remove(temp.c_str());
    error = "cannot rename '" + temp + "' to '" + path + "'";
    return false;
  }
  return true;
}

std::string StatusLine::next(const ServerStats& s, double now_s, const CpuTimes& cpu) {
  const double cpu_total = cpu.total_s();
  double pps_in = 0, pps_out = 0, cpu_pct = 0;
  if (now_s > last_s_) {
    const double dt = now_s - last_s_;
    pps_in = static_cast<double>(s.packets_in - last_in_) / dt;
    pps_out = static_cast<double>(s.packets_out - last_out_) / dt;
    cpu_pct = 100.0 * (cpu_total - last_cpu_) / dt;
  }
  last_s_ = now_s;
  last_cpu_ = cpu_total;
  last_in_ = s.packets_in;
  last_out_ = s.packets_out;
  char buf[200];
  std::snprintf(buf, sizeof(buf), "status peers=%llu pps_in=%.0f pps_out=%.0f cpu=%.1f%% bad=%llu",
                static_cast<unsigned long long>(s.peers_now), pps_in, pps_out, cpu_pct,
                static_cast<unsigned long long>(s.bad_datagrams));
  return buf;
}

}  // namespace volley::server::app
