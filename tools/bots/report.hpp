// volley-bots' end-of-run report: the totals, the RTT histogram and the once-a-second series,
// rendered as a human table, as the flat JSON object of the DESIGN.md contract (the shared
// JsonWriter), and as a self-contained HTML page with inline SVG plots.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

#include "echo_checker.hpp"
#include "game_checker.hpp"
#include "latency_histogram.hpp"

namespace volley::bots {

struct Totals {
  std::uint64_t bots = 0;
  std::uint64_t connected = 0;  // bots that connected at least once
  std::uint64_t failed = 0;     // connection attempts that never connected
  std::uint64_t dropped = 0;    // connections lost while connected (timeout, server left)
  std::uint64_t churn_leaves = 0, churn_rejoins = 0;
  EchoCounts echo;
  GameCounts game;
  std::uint64_t snapshots_received = 0, snapshots_applied = 0, snapshots_dropped_old = 0;
  std::uint64_t snapshots_dropped_corrupt = 0, snapshots_dropped_no_baseline = 0;
  std::uint64_t inputs_sent = 0, chat_sent = 0, chat_shown = 0, chat_missed = 0;
  std::uint64_t send_errors = 0;  // the transport refused a send
  std::uint64_t packets_in = 0, packets_out = 0, bytes_in = 0, bytes_out = 0;
  double bot_seconds = 0;      // connected time summed over bots
  double connect_time_s = 0;   // first connect started to the last first-time connect
  // Broken invariants: echo contract, frames, events, missed chat, lost connections, and sends
  // the transport refused (a channel the server does not have, a full queue): the load asked
  // for did not go out.
  std::uint64_t violations() const noexcept {
    return echo.violations() + game.violations() + chat_missed + dropped + send_errors;
  }
};

struct Sample {
  double t_s = 0;
  std::uint64_t connected = 0;
  double pps_in = 0, pps_out = 0;  // application packets per second, all bots
  TimePoint rtt_p50_us = 0, rtt_p99_us = 0;
  std::uint64_t errors = 0;  // violations + failed so far
};

struct RunInfo {
  std::string engine, behavior, server;
  std::uint64_t sockets = 0;
  double seconds = 0, rate_hz = 0, ramp_per_s = 0, churn_per_s = 0;
  double elapsed_s = 0;
  bool interrupted = false;  // SIGINT / SIGTERM ended the run before --seconds
  double cpu_user_s = 0, cpu_sys_s = 0;
};

struct Report {
  RunInfo info;
  Totals totals;
  LatencyHistogram rtt;
  std::vector<Sample> series;
  bool ok() const noexcept {
    return totals.violations() == 0 && totals.connected == totals.bots;
  }
};

std::string report_table(const Report& report);
std::string report_json(const Report& report);
std::string report_html(const Report& report);
// The live line: "t=12s connected 998/1000 in 10.0k pps out 10.0k pps rtt p50 0.2 p99 1.1 ms errors 0".
std::string progress_line(const Sample& sample, std::uint64_t bots);

}  // namespace volley::bots
