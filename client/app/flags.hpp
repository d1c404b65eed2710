// volley-client's command line: parsing into a plain Options value on CLI11. Every problem is
// one line; the caller exits with code 2.
#pragma once

#include <cstddef>
#include <string>
#include <vector>

namespace volley::client::app {

struct Options {
  std::string server;          // "host:port"
  std::size_t clients = 1;     // game connections in this process (one Host)
  double seconds = 0;          // 0 = until stdin ends or SIGINT
  double chat_every_s = 0;     // scripted chat per client; 0 = off
  double tick_hz = 30;         // inputs per second (the server's --tick-hz)
  std::string report_json;
  bool checksum = false;
  bool compress = false;
  bool quiet = false;  // no per-second status line
  bool keyboard = false;  // the first player moves and chats from the terminal's keys
  bool idle = false;      // scripted players stand still (inputs still go out, with the acks)
  bool help = false;
};

struct Parsed {
  Options options;
  std::string error;    // one line; empty on success
  std::string version;  // --version: the line to print
  std::vector<std::string> undocumented;  // declared flags usage() leaves out (tests: none)
};

Parsed parse_flags(const std::vector<std::string>& args);
std::string usage();

}  // namespace volley::client::app
