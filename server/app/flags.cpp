// Flag parsing for volley-server. Accepts "--flag value" and "--flag=value"; numbers must be
// whole tokens in range, so "--port 80x" or "--max-peers -1" are errors, not silent truncation.
#include "flags.hpp"

#include <charconv>
#include <cmath>
#include <functional>
#include <map>

namespace volley::server::app {

namespace {

template <class T>
bool parse_int(const std::string& text, T min, T max, T& out) {
  long long v = 0;
  const auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), v);
  if (ec != std::errc() || end != text.data() + text.size()) return false;
  if (v < static_cast<long long>(min) || v > static_cast<long long>(max)) return false;
  out = static_cast<T>(v);
  return true;
}

bool parse_double(const std::string& text, double min, double max, double& out) {
  double v = 0;
  const auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), v);
  if (ec != std::errc() || end != text.data() + text.size() || !std::isfinite(v)) return false;
  if (v < min || v > max) return false;
  out = v;
  return true;
}

using Setter = std::function<std::string(const std::string&, Options&)>;

// Flag name → setter returning an error message (empty = ok). Value-less flags are separate.
const std::map<std::string, Setter>& value_flags() {
  static const std::map<std::string, Setter> table = {
      {"--mode", [](const std::string& v, Options& o) -> std::string {
         if (v == "echo") { o.mode = Mode::kEcho; return {}; }
         if (v == "demo") { o.mode = Mode::kDemo; return {}; }
         return "--mode must be echo or demo, got '" + v + "'";
       }},
      {"--bind", [](const std::string& v, Options& o) -> std::string {
         if (v.empty()) return "--bind needs an address";
         o.server.bind = v;
         o.bind_given = true;
         return {};
       }},
      {"--port", [](const std::string& v, Options& o) -> std::string {
         return parse_int<std::uint16_t>(v, 0, 65535, o.server.port) ? "" : "--port must be 0..65535, got '" + v + "'";
       }},
      {"--max-peers", [](const std::string& v, Options& o) -> std::string {
         return parse_int<std::size_t>(v, 1, 1u << 20, o.server.max_peers) ? "" : "--max-peers must be 1..1048576, got '" + v + "'";
       }},
      {"--per-ip-cap", [](const std::string& v, Options& o) -> std::string {
         return parse_int<std::size_t>(v, 0, 1u << 20, o.server.per_ip_cap) ? "" : "--per-ip-cap must be 0..1048576 (0 = no cap), got '" + v + "'";
       }},
      {"--channels", [](const std::string& v, Options& o) -> std::string {
         return parse_int<std::uint32_t>(v, 1, 255, o.server.channel_limit) ? "" : "--channels must be 1..255, got '" + v + "'";
       }},
      {"--tick-hz", [](const std::string& v, Options& o) -> std::string {
         return parse_double(v, 0.001, 10000, o.tick_hz) ? "" : "--tick-hz must be a number in (0, 10000], got '" + v + "'";
       }},
      {"--seconds", [](const std::string& v, Options& o) -> std::string {
         double s = 0;
         if (!parse_double(v, 0, 1e9, s) || s <= 0) return "--seconds must be a positive number, got '" + v + "'";
         o.seconds = s;
         return {};
       }},
      {"--stats-json", [](const std::string& v, Options& o) -> std::string {
         if (v.empty()) return "--stats-json needs a path";
         o.stats_json = v;
         return {};
       }},
      {"--backend", [](const std::string& v, Options& o) -> std::string {
         if (v != "auto" && v != "io_uring" && v != "epoll" && v != "iocp") {
           return "--backend must be auto, io_uring, epoll or iocp, got '" + v + "'";
         }
         o.server.backend = v;
         return {};
       }},
      // Bytes requested for the socket buffers; 0 keeps the OS default. What the kernel granted
      // is logged at info level (it doubles the request, and caps it unless FORCE is allowed).
      {"--recv-buffer", [](const std::string& v, Options& o) -> std::string {
         return parse_int<int>(v, 0, 1 << 30, o.server.recv_buffer_bytes) ? "" : "--recv-buffer must be 0..1073741824 bytes, got '" + v + "'";
       }},
      {"--send-buffer", [](const std::string& v, Options& o) -> std::string {
         return parse_int<int>(v, 0, 1 << 30, o.server.send_buffer_bytes) ? "" : "--send-buffer must be 0..1073741824 bytes, got '" + v + "'";
       }},
      {"--log-level", [](const std::string& v, Options& o) -> std::string {
         if (v == "error") o.log_level = LogLevel::kError;
         else if (v == "warn") o.log_level = LogLevel::kWarn;
         else if (v == "info") o.log_level = LogLevel::kInfo;
         else if (v == "debug") o.log_level = LogLevel::kDebug;
         else return "--log-level must be error, warn, info or debug, got '" + v + "'";
         return {};
       }},
      {"--status-interval", [](const std::string& v, Options& o) -> std::string {
         return parse_double(v, 0, 86400, o.status_interval_s) ? "" : "--status-interval must be 0..86400 seconds, got '" + v + "'";
       }},
  };
  return table;
}

}  // namespace

std::string usage() {
  return "usage: volley-server --mode echo|demo [--bind ADDR] [--port P] [--max-peers N]\n"
         "                     [--per-ip-cap N] [--channels C] [--checksum] [--compress]\n"
         "                     [--tick-hz HZ] [--seconds T] [--stats-json PATH]\n"
         "                     [--backend auto|io_uring|epoll|iocp]\n"
         "                     [--recv-buffer BYTES] [--send-buffer BYTES]\n"
         "                     [--log-level error|warn|info|debug] [--status-interval S]\n";
}

Parsed parse_flags(const std::vector<std::string>& args) {
  Parsed parsed;
  Options& o = parsed.options;
  bool have_mode = false;
  for (std::size_t i = 0; i < args.size(); ++i) {
    std::string flag = args[i];
    std::optional<std::string> value;
    if (const auto eq = flag.find('='); flag.starts_with("--") && eq != std::string::npos) {
      value = flag.substr(eq + 1);
      flag.resize(eq);
    }
    if (flag == "--help" || flag == "-h") { o.help = true; return parsed; }
    if (flag == "--checksum" || flag == "--compress") {
      if (value) { parsed.error = flag + " takes no value"; return parsed; }
      (flag == "--checksum" ? o.server.checksum : o.server.compress) = true;
      continue;
    }
    const auto it = value_flags().find(flag);
    if (it == value_flags().end()) {
      parsed.error = "unknown flag '" + args[i] + "' (see --help)";
      return parsed;
    }
    if (!value) {
      if (i + 1 >= args.size()) { parsed.error = flag + " needs a value"; return parsed; }
      value = args[++i];
    }
    if (std::string error = it->second(*value, o); !error.empty()) {
      parsed.error = std::move(error);
      return parsed;
    }
    if (flag == "--mode") have_mode = true;
  }
  if (!have_mode) parsed.error = "--mode echo|demo is required (see --help)";
  return parsed;
}

}  // namespace volley::server::app
