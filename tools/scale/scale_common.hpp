// Shared helpers of the scale tools (volley-enet-echo-server, volley-swarm, volley-enet-swarm):
// strict flag parsing (a bad flag is one line on stderr and exit code 2), another process's CPU
// and memory from /proc, latency percentiles, and the flat JSON report object. Header-only
// because each tool is one translation unit; this process's CPU and the JSON writer itself are
// volley_support's.
#pragma once

#include <unistd.h>

#include <algorithm>
#include <charconv>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <sstream>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "volley/support/json_writer.hpp"
#include "volley/support/process_cpu.hpp"

namespace volley::tools {

// Exit code for unusable command lines (the DESIGN.md tool contract).
inline constexpr int kExitUsage = 2;

[[noreturn]] inline void usage_error(const char* tool, const std::string& message) {
  std::fprintf(stderr, "%s: %s\n", tool, message.c_str());
  std::exit(kExitUsage);
}

// Walks argv as "--flag value" pairs; every flag this project's tools take has a value.
class FlagReader {
 public:
  FlagReader(const char* tool, int argc, char** argv) : tool_(tool), argc_(argc), argv_(argv) {}

  bool next() {
    if (index_ >= argc_) return false;
    flag_ = argv_[index_++];
    if (flag_ == "--help" || flag_ == "-h") usage_error(tool_, "see docs/scale.md for flags");
    if (index_ >= argc_) usage_error(tool_, "missing value for " + std::string(flag_));
    value_ = argv_[index_++];
    return true;
  }
  std::string_view flag() const { return flag_; }
  std::string text() const { return std::string(value_); }

  template <class Int>
  Int integer(Int min, Int max) const {
    Int v{};
    auto [end, ec] = std::from_chars(value_.data(), value_.data() + value_.size(), v);
    if (ec != std::errc() || end != value_.data() + value_.size() || v < min || v > max) {
      usage_error(tool_, std::string(flag_) + " wants an integer in [" + std::to_string(min) +
                             ", " + std::to_string(max) + "], got '" + std::string(value_) + "'");
    }
    return v;
  }
  double number(double min, double max) const {
    char* end = nullptr;
    std::string copy(value_);
    double v = std::strtod(copy.c_str(), &end);
    if (copy.empty() || *end != '\0' || !(v >= min && v <= max)) {
      usage_error(tool_, std::string(flag_) + " wants a number in [" + std::to_string(min) + ", " +
                             std::to_string(max) + "], got '" + copy + "'");
    }
    return v;
  }
  [[noreturn]] void unknown() const { usage_error(tool_, "unknown flag " + std::string(flag_)); }
  const char* tool() const { return tool_; }

 private:
  const char* tool_;
  int argc_;
  char** argv_;
  int index_ = 1;
  std::string_view flag_;
  std::string_view value_;
};

// "HOST:PORT" or "[V6]:PORT" split into host and port; false if malformed.
inline bool split_host_port(std::string_view text, std::string& host, std::uint16_t& port) {
  std::size_t colon = text.rfind(':');
  if (colon == std::string_view::npos || colon + 1 >= text.size()) return false;
  std::string_view h = text.substr(0, colon);
  if (h.size() >= 2 && h.front() == '[' && h.back() == ']') h = h.substr(1, h.size() - 2);
  std::string_view p = text.substr(colon + 1);
  unsigned v = 0;
  auto [end, ec] = std::from_chars(p.data(), p.data() + p.size(), v);
  if (ec != std::errc() || end != p.data() + p.size() || v == 0 || v > 65535 || h.empty()) {
    return false;
  }
  host = std::string(h);
  port = static_cast<std::uint16_t>(v);
  return true;
}

// Whole-process CPU, all threads (what the stats JSON contract asks a server to report).
using support::CpuTimes;
using support::process_cpu;

// Another process's CPU (user + system, all its threads) from /proc/<pid>/stat, in seconds at
// clock-tick resolution (10 ms); negative if the process cannot be read. The swarms sample the
// server with this at the edges of their measurement windows, so the window is exact.
inline double proc_cpu_seconds(long pid) {
  std::ifstream in("/proc/" + std::to_string(pid) + "/stat");
  std::string line;
  if (!std::getline(in, line)) return -1;
  // The command name may hold spaces; fields restart after the last ')'.
  std::size_t close = line.rfind(')');
  if (close == std::string::npos) return -1;
  std::istringstream fields(line.substr(close + 2));
  std::string field;
  unsigned long long utime = 0, stime = 0;
  for (int i = 3; i <= 15 && fields >> field; ++i) {  // field 3 is the state
    if (i == 14) utime = std::strtoull(field.c_str(), nullptr, 10);
    if (i == 15) stime = std::strtoull(field.c_str(), nullptr, 10);
  }
  return static_cast<double>(utime + stime) / static_cast<double>(sysconf(_SC_CLK_TCK));
}

// A "Vm...:" line of /proc/<pid>/status in KiB (VmHWM = peak RSS, VmRSS = now); 0 if unreadable.
inline std::uint64_t proc_memory_kib(long pid, std::string_view key) {
  std::ifstream in("/proc/" + std::to_string(pid) + "/status");
  std::string line;
  while (std::getline(in, line)) {
    if (line.compare(0, key.size(), key) == 0) {
      return std::strtoull(line.c_str() + key.size(), nullptr, 10);
    }
  }
  return 0;
}

// Nearest-rank percentile of samples (sorted in place); 0 when there are none.
inline std::uint64_t percentile(std::vector<std::uint32_t>& samples, double p) {
  if (samples.empty()) return 0;
  std::sort(samples.begin(), samples.end());
  std::size_t rank = static_cast<std::size_t>(p / 100.0 * static_cast<double>(samples.size()));
  return samples[std::min(rank, samples.size() - 1)];
}

// One flat JSON report object, keys in insertion order, written by the shared JsonWriter.
// Doubles keep 6 significant digits; a negative int is reported as 0.
class JsonObject {
 public:
  JsonObject() { json_.begin_object(); }
  void add(std::string_view key, double value) { json_.number(key, value); }
  void add(std::string_view key, std::uint64_t value) { json_.field(key, value); }
  void add(std::string_view key, int value) { add(key, static_cast<std::uint64_t>(value < 0 ? 0 : value)); }
  void add(std::string_view key, bool value) { json_.field(key, value); }
  void add(std::string_view key, std::string_view value) { json_.field(key, value); }
  // The finished object and a newline; closes the object on first use (add nothing after).
  const std::string& text() {
    if (!closed_) {
      json_.end_object();
      closed_ = true;
      text_ = json_.str() + "\n";
    }
    return text_;
  }
  // Empty path: nothing written. Returns false (after a message) when the file cannot be written.
  bool write(const std::string& path, const char* tool) {
    if (path.empty()) return true;
    const std::string& t = text();
    std::FILE* f = std::fopen(path.c_str(), "w");
    bool ok = f && std::fwrite(t.data(), 1, t.size(), f) == t.size();
    if (f) ok = std::fclose(f) == 0 && ok;
    if (!ok) std::fprintf(stderr, "%s: cannot write %s\n", tool, path.c_str());
    return ok;
  }

 private:
  support::JsonWriter json_;
  std::string text_;
  bool closed_ = false;
};

// The data word both swarms put in their DISCONNECT. libenet 1.3.17 reports a timed-out peer as
// a DISCONNECT event with data 0, so a stock server can only tell a graceful leave from a
// timeout by a non-zero word: volley-enet-echo-server counts data != 0 as a disconnect.
inline constexpr std::uint32_t kGoodbyeData = 0x42594521;

}  // namespace volley::tools
