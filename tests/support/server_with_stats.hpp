// volley-server as a child process that writes its stats JSON to a fresh temporary file: the
// suites that check what the server counted (client library tests against echo and demo mode)
// start it with their own flags, talk to address(), then read stop_and_stats().
#pragma once

#include <doctest/doctest.h>

#include <cstdio>
#include <memory>
#include <string>
#include <vector>

#include "support/server_process.hpp"

namespace volley::test {

class ServerWithStats {
 public:
  // `args` are volley-server's flags; "--stats-json <temp file>" is added.
  ServerWithStats(const std::string& exe, std::vector<std::string> args, const std::string& stem)
      : stats_(unique_temp_path(stem)) {
    args.insert(args.end(), {"--stats-json", stats_});
    process_ = std::make_unique<ServerProcess>(exe, args);
  }
  ~ServerWithStats() {
    process_.reset();
    std::remove(stats_.c_str());
  }
  ServerWithStats(const ServerWithStats&) = delete;
  ServerWithStats& operator=(const ServerWithStats&) = delete;

  std::string address() const { return "127.0.0.1:" + std::to_string(port()); }
  std::uint16_t port() const { return process_->port(); }
  ServerProcess& process() { return *process_; }
  // Stops the server (it must exit 0) and returns its stats object.
  FlatJson stop_and_stats() {
    REQUIRE(process_->stop() == 0);
    const auto text = read_file_text(stats_);
    REQUIRE(text);
    const auto json = FlatJson::parse(*text);
    REQUIRE(json);
    return *json;
  }

 private:
  std::string stats_;
  std::unique_ptr<ServerProcess> process_;
};

}  // namespace volley::test
