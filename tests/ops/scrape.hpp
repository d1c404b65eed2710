// HTTP from the tests' side: a real client (Debian's curl, run as a child process) for the
// operations endpoints, and the Prometheus text parsed into "name{labels}" -> value.
#pragma once

#include <cstdio>
#include <map>
#include <optional>
#include <sstream>
#include <string>

namespace volley::ops_test {

struct Reply {
  int status = 0;  // 0: curl could not connect
  std::string body;
};

// GET `url` with curl (5 s limit). The status comes from curl's -w on a last line of its own.
inline Reply http_get(const std::string& url) {
  const std::string command = "curl -sS --max-time 5 -o - -w '\\n%{http_code}' '" + url + "' 2>/dev/null";
  Reply reply;
  std::FILE* pipe = ::popen(command.c_str(), "r");
  if (pipe == nullptr) return reply;
  std::string out;
  char buf[4096];
  while (const std::size_t n = std::fread(buf, 1, sizeof(buf), pipe)) out.append(buf, n);
  ::pclose(pipe);
  const std::size_t nl = out.rfind('\n');
  if (nl == std::string::npos) return reply;
  reply.status = std::atoi(out.c_str() + nl + 1);
  reply.body = out.substr(0, nl);
  return reply;
}

using Samples = std::map<std::string, double>;

// Sample lines only ("# ..." comments skipped); the key is the series as written.
inline Samples parse_samples(const std::string& text) {
  Samples samples;
  std::istringstream in(text);
  std::string line;
  while (std::getline(in, line)) {
    if (line.empty() || line[0] == '#') continue;
    const std::size_t space = line.rfind(' ');
    if (space == std::string::npos) continue;
    samples[line.substr(0, space)] = std::stod(line.substr(space + 1));
  }
  return samples;
}

inline double value(const Samples& samples, const std::string& series) {
  const auto it = samples.find(series);
  return it == samples.end() ? -1 : it->second;
}

// "metrics http://ADDR:PORT/metrics" from volley-server's stdout -> "http://ADDR:PORT".
inline std::optional<std::string> metrics_base(const std::string& output) {
  const std::string tag = "metrics http://";
  const std::size_t at = output.find(tag);
  if (at == std::string::npos) return std::nullopt;
  const std::size_t end = output.find("/metrics", at + tag.size());
  if (end == std::string::npos) return std::nullopt;
  return output.substr(at + 8, end - at - 8);
}

}  // namespace volley::ops_test
