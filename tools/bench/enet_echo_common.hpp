// Helpers of volley-enet-echo-server: the usage-error exit (flags themselves are parsed with
// CLI11), and its flat JSON stats object on the shared JsonWriter.
#pragma once

#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <string_view>

#include "volley/support/cli.hpp"
#include "volley/support/json_writer.hpp"
#include "volley/support/process_cpu.hpp"

namespace volley::tools {

// Exit code for unusable command lines (the DESIGN.md tool contract).
inline constexpr int kExitUsage = 2;

[[noreturn]] inline void usage_error(const char* tool, const std::string& message) {
  std::fprintf(stderr, "%s: %s\n", tool, message.c_str());
  std::exit(kExitUsage);
}

// Whole-process CPU, all threads (what the stats JSON contract asks a server to report).
using support::CpuTimes;
using support::process_cpu;

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

// libenet 1.3.17 reports a timed-out peer as a DISCONNECT event with data 0, so a stock server
// can only tell a graceful leave from a timeout by a non-zero word: this server counts
// data != 0 as a disconnect. volley-bots leaves with kGoodbyeData (tools/bots/swarm.hpp).
inline constexpr std::uint32_t kGoodbyeData = 0x42594521;

}  // namespace volley::tools
