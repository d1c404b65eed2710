// Stats JSON and status line formatting for volley-server.
#include "report.hpp"

#include <cstdio>
#include <fstream>

#if defined(_WIN32)
#include <windows.h>
#else
#include <sys/resource.h>
#endif

namespace volley::server::app {

namespace {

std::string escape(std::string_view text) {
  std::string out;
  for (const char c : text) {
    if (c == '"' || c == '\\') {
      out += '\\';
      out += c;
    } else if (static_cast<unsigned char>(c) < 0x20) {
      char buf[8];
      std::snprintf(buf, sizeof(buf), "\\u%04x", static_cast<unsigned>(c));
      out += buf;
    } else {
      out += c;
    }
  }
  return out;
}

void field(std::string& out, std::string_view key, std::uint64_t value) {
  out += "  \"" + escape(key) + "\": " + std::to_string(value) + ",\n";
}

}  // namespace

CpuTimes process_cpu() {
#if defined(_WIN32)
  FILETIME created, exited, kernel, user;
  if (!GetProcessTimes(GetCurrentProcess(), &created, &exited, &kernel, &user)) return {};
  auto seconds = [](const FILETIME& t) {
    return static_cast<double>((static_cast<std::uint64_t>(t.dwHighDateTime) << 32) | t.dwLowDateTime) / 1e7;
  };
  return {seconds(user), seconds(kernel)};
#else
  rusage usage{};
  if (getrusage(RUSAGE_SELF, &usage) != 0) return {};
  auto seconds = [](const timeval& t) { return static_cast<double>(t.tv_sec) + t.tv_usec / 1e6; };
  return {seconds(usage.ru_utime), seconds(usage.ru_stime)};
#endif
}

std::string stats_json(const ServerStats& s, const CpuTimes& cpu, const Server& server) {
  std::string out = "{\n";
  field(out, "connects", s.connects);
  field(out, "disconnects", s.disconnects);
  field(out, "timeouts", s.timeouts);
  field(out, "packets_in", s.packets_in);
  field(out, "packets_out", s.packets_out);
  field(out, "bytes_in", s.bytes_in);
  field(out, "bytes_out", s.bytes_out);
  field(out, "datagrams_in", s.datagrams_in);
  field(out, "datagrams_out", s.datagrams_out);
  field(out, "bad_datagrams", s.bad_datagrams);
  field(out, "peers_peak", s.peers_peak);
  field(out, "peers_now", s.peers_now);
  for (const auto& [key, value] : s.details) field(out, key, value);
  char buf[64];
  std::snprintf(buf, sizeof(buf), "%.6f", cpu.user_s);
  out += "  \"cpu_user_s\": " + std::string(buf) + ",\n";
  std::snprintf(buf, sizeof(buf), "%.6f", cpu.sys_s);
  out += "  \"cpu_sys_s\": " + std::string(buf) + ",\n";
  out += "  \"backend_note\": \"" + escape(server.backend_note()) + "\",\n";
  out += "  \"backend\": \"" + escape(server.backend()) + "\"\n}\n";
  return out;
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
  const double cpu_total = cpu.user_s + cpu.sys_s;
  double pps_in = 0, pps_out = 0, cpu_pct = 0;
  if (primed_ && now_s > last_s_) {
    const double dt = now_s - last_s_;
    pps_in = static_cast<double>(s.packets_in - last_in_) / dt;
    pps_out = static_cast<double>(s.packets_out - last_out_) / dt;
    cpu_pct = 100.0 * (cpu_total - last_cpu_) / dt;
  }
  primed_ = true;
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
