// The operations units on their own: the Prometheus text of a known ServerStats (names, units,
// labels, cumulative buckets, the exposition format's grammar), the OpsBoard's health and
// readiness, and --metrics address checking.
#include <doctest/doctest.h>

#include <fstream>
#include <regex>
#include <set>
#include <sstream>

#ifdef __linux__
#include <sys/mman.h>
#endif

#include "flags.hpp"
#include "ops_board.hpp"
#include "prometheus.hpp"
#include "scrape.hpp"
#include "volley/server/version.hpp"
#include "volley/support/process_memory.hpp"

namespace {

using namespace volley::server;
using namespace volley::server::app;
using volley::ops_test::parse_samples;
using volley::ops_test::value;

ServerStats sample_stats() {
  ServerStats s;
  s.connects = 7;
  s.disconnects = 3;
  s.timeouts = 1;
  s.packets_in = 1000;
  s.packets_out = 999;
  s.bytes_in = 64000;
  s.bytes_out = 63936;
  s.datagrams_in = 1200;
  s.datagrams_out = 1300;
  s.bad_datagrams = 5;
  s.peers_now = 3;
  s.peers_peak = 4;
  s.details = {{"local_disconnects", 2}, {"retransmits", 11}, {"loop_recv_batches", 400},
               {"loop_wakeups", 12}, {"loop_syscalls", 900}, {"loop_waits", 450}, {"loop_naps", 70},
               {"loop_naps_empty", 9}, {"ticks", 60}, {"ticks_late", 1},
               {"snapshot_frames", 60}, {"snapshots_full", 4}, {"snapshots_delta", 170},
               {"snapshot_bytes", 52000}, {"events_pending", 2}, {"events_undeliverable", 0},
               {"loop_send_errors", 13}, {"loop_send_dropped", 14}, {"loop_recv_errors", 15},
               {"loop_recv_exhausted", 16}, {"handshake_evicted", 17}, {"pings_out", 18}};
  s.drops = {{"bad_checksum", 5}, {"we\"ird\\name\n", 1}};
  s.refusals = {{"full", 2}, {"per_ip", 0}, {"shutting_down", 9}};
  s.send_queued = 6;
  s.send_unacked = 8;
  s.peer_rtt_seconds = {{0.001, 0.01, 0.1}, {0, 2, 3, 3}, 0.025};
  s.datagrams_per_batch = {{1, 2, 4}, {100, 250, 390, 400}, 1100};
  s.tick_seconds = {{0.001, 0.01}, {50, 60, 60}, 0.04};
  s.snapshot_bytes = {{256, 1024}, {150, 170, 174}, 52000};
  s.accepting = false;
  s.draining = true;
  return s;
}

TEST_CASE("prometheus text: every figure under its conventional name, units and labels") {
  const std::string text = prometheus_text(sample_stats(), {{1.25, 0.5}, 12345678, 1764619200.5});
  const auto s = parse_samples(text);
  CHECK(value(s, "volley_build_info{version=\"" + std::string(volley::server::version_number()) + "\"}") == 1);
  CHECK(value(s, "volley_peers_connected") == 3);
  CHECK(value(s, "volley_peers_connected_peak") == 4);
  CHECK(value(s, "volley_accepting") == 0);
  CHECK(value(s, "volley_draining") == 1);
  CHECK(value(s, "volley_connects_total") == 7);
  CHECK(value(s, "volley_disconnects_total") == 3);
  CHECK(value(s, "volley_local_disconnects_total") == 2);
  CHECK(value(s, "volley_timeouts_total") == 1);
  CHECK(value(s, "volley_packets_received_total") == 1000);
  CHECK(value(s, "volley_packets_sent_total") == 999);
  CHECK(value(s, "volley_payload_received_bytes_total") == 64000);
  CHECK(value(s, "volley_payload_sent_bytes_total") == 63936);
  CHECK(value(s, "volley_datagrams_received_total") == 1200);
  CHECK(value(s, "volley_datagrams_sent_total") == 1300);
  CHECK(value(s, "volley_bad_datagrams_total") == 5);
  CHECK(value(s, "volley_drops_total{reason=\"bad_checksum\"}") == 5);
  // The format's escapes for backslash, quote and newline in a label value.
  CHECK(value(s, "volley_drops_total{reason=\"we\\\"ird\\\\name\\n\"}") == 1);
  CHECK(value(s, "volley_refusals_total{reason=\"full\"}") == 2);
  CHECK(value(s, "volley_refusals_total{reason=\"shutting_down\"}") == 9);
  CHECK(value(s, "volley_retransmits_total") == 11);
  CHECK(value(s, "volley_send_queue_commands") == 6);
  CHECK(value(s, "volley_send_unacked_commands") == 8);
  CHECK(value(s, "volley_loop_receive_batches_total") == 400);
  CHECK(value(s, "volley_loop_wakeups_total") == 12);
  CHECK(value(s, "volley_loop_waits_total") == 450);
  CHECK(value(s, "volley_loop_naps_total") == 70);
  CHECK(value(s, "volley_loop_naps_empty_total") == 9);
  CHECK(value(s, "volley_peer_rtt_seconds_bucket{le=\"0.01\"}") == 2);
  CHECK(value(s, "volley_peer_rtt_seconds_bucket{le=\"+Inf\"}") == 3);
  CHECK(value(s, "volley_peer_rtt_seconds_count") == 3);
  CHECK(value(s, "volley_peer_rtt_seconds_sum") == doctest::Approx(0.025));
  CHECK(value(s, "volley_loop_datagrams_per_batch_bucket{le=\"4\"}") == 390);
  CHECK(value(s, "volley_loop_datagrams_per_batch_count") == 400);
  CHECK(value(s, "volley_ticks_total") == 60);
  CHECK(value(s, "volley_tick_duration_seconds_count") == 60);
  CHECK(value(s, "volley_snapshots_sent_total{kind=\"full\"}") == 4);
  CHECK(value(s, "volley_snapshots_sent_total{kind=\"delta\"}") == 170);
  CHECK(value(s, "volley_snapshot_sent_bytes_total") == 52000);
  CHECK(value(s, "volley_snapshot_size_bytes_bucket{le=\"1024\"}") == 170);
  CHECK(value(s, "volley_snapshot_events_pending") == 2);
  CHECK(value(s, "process_cpu_seconds_total") == doctest::Approx(1.75));
  CHECK(value(s, "process_resident_memory_bytes") == 12345678);
  CHECK(value(s, "process_start_time_seconds") == doctest::Approx(1764619200.5).epsilon(1e-12));
  CHECK(value(s, "volley_loop_send_errors_total") == 13);
  CHECK(value(s, "volley_loop_send_dropped_total") == 14);
  CHECK(value(s, "volley_loop_receive_errors_total") == 15);
  CHECK(value(s, "volley_loop_receive_exhausted_total") == 16);
  CHECK(value(s, "volley_handshake_evicted_total") == 17);
  CHECK(value(s, "volley_pings_sent_total") == 18);
  // Fifteen significant digits: a long-running process's CPU seconds keep their fractions.
  const auto long_run = parse_samples(prometheus_text(sample_stats(), {{1234.5, 0.0078}, 1}));
  CHECK(value(long_run, "process_cpu_seconds_total") == doctest::Approx(1234.5078).epsilon(1e-9));
  // Not accepting and not draining (a plain stop): the draining gauge is 0.
  ServerStats stopping = sample_stats();
  stopping.draining = false;
  CHECK(value(parse_samples(prometheus_text(stopping, {})), "volley_draining") == 0);
}

TEST_CASE("prometheus text: the exposition grammar, HELP and TYPE once per family, before its samples") {
  const std::string text = prometheus_text(sample_stats(), {});
  const std::regex sample_line(R"(([a-zA-Z_:][a-zA-Z0-9_:]*)(\{([a-zA-Z_][a-zA-Z0-9_]*="([^"\\]|\\.)*",?)*\})? -?[0-9.e+-]+|[+-]Inf|NaN)");
  const std::regex type_line(R"(# TYPE ([a-zA-Z_:][a-zA-Z0-9_:]*) (counter|gauge|histogram))");
  std::set<std::string> typed;
  std::string current;
  std::istringstream in(text);
  std::string line;
  int samples = 0;
  while (std::getline(in, line)) {
    INFO(line);
    std::smatch m;
    if (line.rfind("# HELP ", 0) == 0) continue;
    if (std::regex_match(line, m, type_line)) {
      CHECK(typed.insert(m[1]).second);  // one TYPE per family
      current = m[1];
      if (m[2] == "counter") CHECK(current.ends_with("_total"));
      continue;
    }
    REQUIRE(std::regex_match(line, m, sample_line));
    const std::string name = m[1];
    // A sample belongs to the family declared just before it (histograms add suffixes).
    CHECK((name == current || name == current + "_bucket" || name == current + "_sum" ||
           name == current + "_count"));
    ++samples;
  }
  CHECK(samples > 50);
  CHECK(text.back() == '\n');
}

TEST_CASE("prometheus text: no tick or snapshot families without a tick or a sender") {
  ServerStats s = sample_stats();
  s.details = {};
  s.tick_seconds = {};
  const std::string text = prometheus_text(s, {});
  CHECK(text.find("volley_tick_duration_seconds") == std::string::npos);
  CHECK(text.find("volley_snapshots_sent_total") == std::string::npos);
  CHECK(text.find("volley_ticks_total 0") != std::string::npos);
}

TEST_CASE("ops board: healthy within the bound of the last publish, ready until a drain is marked") {
  using Clock = OpsBoard::Clock;
  OpsBoard board;
  const auto t0 = Clock::now();
  CHECK_FALSE(board.healthy(t0, std::chrono::seconds(5)));  // the loop has not run yet
  CHECK_FALSE(board.ready());
  CHECK_FALSE(board.latest().has_value());
  ServerStats stats = sample_stats();
  stats.accepting = true;
  REQUIRE(board.publish(stats, t0));
  CHECK(board.healthy(t0 + std::chrono::seconds(5), std::chrono::seconds(5)));
  CHECK_FALSE(board.healthy(t0 + std::chrono::seconds(6), std::chrono::seconds(5)));
  CHECK(board.ready());
  CHECK(board.latest()->connects == 7);
  board.mark_not_accepting();
  CHECK_FALSE(board.ready());
  // A publish from a loop that no longer accepts also reads as not ready.
  OpsBoard other;
  ServerStats draining = sample_stats();
  REQUIRE(other.publish(draining, t0));
  CHECK_FALSE(other.ready());
}

// process_resident_memory_bytes is the resident set, not the address space: it agrees with the
// kernel's VmRSS while 1 GiB of address space is reserved and never touched.
TEST_CASE("process memory: the resident set, as /proc/self/status reports it") {
#ifdef __linux__
  constexpr std::size_t kReserved = std::size_t{1} << 30;
  void* reserved = mmap(nullptr, kReserved, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
  REQUIRE(reserved != MAP_FAILED);
  std::ifstream status("/proc/self/status");
  std::string line;
  double vm_rss = 0;
  while (std::getline(status, line))
    if (line.rfind("VmRSS:", 0) == 0) vm_rss = std::stod(line.substr(6)) * 1024;
  REQUIRE(vm_rss > 0);
  const auto rss = static_cast<double>(volley::support::process_rss_bytes());
  CHECK(rss > 0.5 * vm_rss);
  CHECK(rss < 2.0 * vm_rss);
  munmap(reserved, kReserved);
#endif
}

// usage() is written by hand beside the CLI11 declarations (it fell four flags behind once).
TEST_CASE("volley-server --help names every flag it takes") {
  const Parsed parsed = parse_flags({"--help"});
  CHECK(parsed.options.help);
  std::string missing;
  for (const std::string& flag : parsed.undocumented) missing += flag + " ";
  CHECK(missing == "");
}

TEST_CASE("--metrics address: numeric ADDR:PORT only") {
  for (const char* ok : {"127.0.0.1:9100", "0.0.0.0:0", "[::1]:0", "[::]:65535"}) {
    INFO(ok);
    CHECK(check_listen_address(ok).empty());
  }
  for (const char* bad : {"", "9100", ":9100", "127.0.0.1:", "127.0.0.1:65536", "127.0.0.1:-1",
                          "localhost:9100", "::1:9100", "[::1]", "[::1:9100", "1.2.3:80", "127.0.0.1:80x",
                          "127.0.0.1:99999999999", "127.0.0.1:0065536"}) {
    INFO(bad);
    CHECK_FALSE(check_listen_address(bad).empty());
  }
}

}  // namespace
