// volley-server's flags, declared on CLI11 (volley/support/cli.hpp): "--flag value" and
// "--flag=value"; numbers must be whole tokens in range, so "--port 80x" or "--max-peers -1" are
// errors, not silent truncation. Every problem is one line.
#include "flags.hpp"

#include <arpa/inet.h>

#include <cmath>
#include <map>

#include "volley/server/version.hpp"
#include "volley/support/cli.hpp"

namespace volley::server::app {

namespace {
// What an ENet packet can be at most (a 32-bit totalLength; libenet's own default is 32 MiB).
constexpr std::uint32_t protocol_max_packet = 1u << 30;
}  // namespace

std::string usage() {
  return "usage: volley-server --mode echo|demo [--bind ADDR] [--port P] [--max-peers N]\n"
         "                     [--per-ip-cap N] [--channels C] [--checksum] [--compress]\n"
         "                     [--tick-hz HZ] [--entities N] [--seed S] [--view-cell M] [--seconds T]\n"
         "                     [--stats-json PATH]\n"
         "                     [--backend auto|io_uring|epoll|iocp]  (Linux default: epoll)\n"
         "                     [--recv-buffer BYTES] [--send-buffer BYTES] [--coalesce-us US]\n"
         "                     [--keepalive when-silent|libenet]\n"
         "                     [--log-level error|warn|info|debug] [--status-interval S]\n"
         "                     [--metrics ADDR:PORT] [--drain-seconds S]\n"
         "                     [--agones] [--agones-health-interval S] [--version]\n"
         "  limits (README \"Limits\"): [--max-packet-size BYTES] [--max-fragments N]\n"
         "                     [--max-waiting-data BYTES] [--max-waiting-total BYTES]\n"
         "                     [--max-held-commands N] [--max-queued-data BYTES]\n"
         "                     [--handshake-rate N] [--handshake-burst N]\n"
         "                     [--handshake-rate-per-ip N] [--handshake-burst-per-ip N]\n"
         "                     [--max-inputs-per-s N] [--input-burst N]\n"
         "  peer timeouts:     [--peer-timeout-limit N] [--peer-timeout-min MS] [--peer-timeout-max MS]\n"
         "                     [--peer-rto-cap MS]\n"
         "  defaults: --bind :: (IPv4 and IPv6), --port 0 (a free port: read the \"listening\" line),\n"
         "            --max-peers 4096, --per-ip-cap 32, --drain-seconds 30; docs/server.md lists them all.\n"
         "  --help prints this.\n";
}

std::string check_listen_address(const std::string& text) {
  const std::string shape = "expects ADDR:PORT with a numeric address (127.0.0.1:9100, or [::1]:0 where civetweb has IPv6), got '" + text + "'";
  const std::size_t colon = text.rfind(':');
  if (colon == std::string::npos || colon == 0 || colon + 1 == text.size()) return shape;
  std::string host = text.substr(0, colon);
  const std::string port = text.substr(colon + 1);
  if (port.size() > 5 || port.find_first_not_of("0123456789") != std::string::npos || std::stoi(port) > 65535) {
    return shape;
  }
  int family = AF_INET;
  if (host.front() == '[') {
    if (host.size() < 3 || host.back() != ']') return shape;
    host = host.substr(1, host.size() - 2);
    family = AF_INET6;
  }
  unsigned char buf[sizeof(in6_addr)];
  if (inet_pton(family, host.c_str(), buf) != 1) return shape;
  return {};
}

Parsed parse_flags(const std::vector<std::string>& args) {
  Parsed parsed;
  Options& o = parsed.options;
  const std::map<std::string, Mode> modes = {{"echo", Mode::kEcho}, {"demo", Mode::kDemo}};
  const std::map<std::string, LogLevel> levels = {{"error", LogLevel::kError},
                                                  {"warn", LogLevel::kWarn},
                                                  {"info", LogLevel::kInfo},
                                                  {"debug", LogLevel::kDebug}};
  double seconds = 0;
  CLI::App app("volley-server");
  app.set_version_flag("--version", std::string(volley::server::version()));
  std::string mode, level;
  app.add_option("--mode", mode)->required()->check(CLI::IsMember({"echo", "demo"}));
  app.add_option("--bind", o.server.bind);
  app.add_option("--port", o.server.port)->check(CLI::Range(0, 65535));
  app.add_option("--max-peers", o.server.max_peers)->check(CLI::Range(1, 1 << 20));
  app.add_option("--per-ip-cap", o.server.per_ip_cap, "connected peers per client IP; 0 = no cap")
      ->check(CLI::Range(0, 1 << 20));
  // Limits on what a remote controls (README "Limits"); the defaults are Config's.
  Config& c = o.server;
  constexpr std::size_t kGiB = std::size_t{1} << 30;
  app.add_option("--max-packet-size", c.max_packet_size, "bytes of one received packet")
      ->check(CLI::Range(std::uint32_t{1}, protocol_max_packet));
  app.add_option("--max-fragments", c.max_fragments, "fragments of one received packet")
      ->check(CLI::Range(std::uint32_t{1}, std::uint32_t{1} << 20));
  app.add_option("--max-waiting-data", c.max_waiting_data, "undelivered received bytes per peer")
      ->check(CLI::Range(std::size_t{1}, 64 * kGiB));
  app.add_option("--max-waiting-total", c.max_waiting_total, "undelivered received bytes, all peers")
      ->check(CLI::Range(std::size_t{1}, 1024 * kGiB));
  app.add_option("--max-held-commands", c.max_held_commands, "commands held out of order per peer")
      ->check(CLI::Range(std::size_t{1}, std::size_t{1} << 24));
  app.add_option("--max-queued-data", c.max_queued_data, "unacknowledged outgoing bytes per peer")
      ->check(CLI::Range(std::size_t{64 * 1024}, 64 * kGiB));
  // libenet's enet_peer_timeout for every peer, and a cap on the resend interval (docs/attacks.md
  // "Why 20% loss drops ENet peers"); the defaults are libenet's.
  app.add_option("--peer-timeout-limit", c.timeout_limit, "an RTO this many times the first may end a peer")
      ->check(CLI::Range(1u, 1u << 30));
  app.add_option("--peer-timeout-min", c.timeout_minimum_ms, "ms")->check(CLI::Range(1u, 1u << 30));
  app.add_option("--peer-timeout-max", c.timeout_maximum_ms, "ms without any ACK that end a peer")
      ->check(CLI::Range(1u, 1u << 30));
  // Which peers get our keepalive PINGs (Config::ping_only_when_silent, docs/server.md).
  std::string keepalive = "when-silent";
  app.add_option("--keepalive", keepalive,
                 "when-silent: PING a peer only after 2 ping intervals + RTT without a datagram from it "
                 "(libenet's rule while its throttle is lowered); libenet: whenever no ACK came for one")
      ->check(CLI::IsMember({"when-silent", "libenet"}));
  app.add_option("--peer-rto-cap", c.rto_cap_ms, "ms; the resend interval stops doubling here; 0 = never")
      ->check(CLI::Range(0u, 1u << 30));
  app.add_option("--handshake-rate", c.handshake_rate, "handshake replies per second in all; 0 = unlimited")
      ->check(CLI::Range(0u, 100'000'000u));
  app.add_option("--handshake-burst", c.handshake_burst)->check(CLI::Range(1u, 100'000'000u));
  app.add_option("--handshake-rate-per-ip", c.handshake_rate_per_ip,
                 "handshake replies per second per client IP; 0 = unlimited")
      ->check(CLI::Range(0u, 100'000'000u));
  app.add_option("--handshake-burst-per-ip", c.handshake_burst_per_ip)->check(CLI::Range(1u, 100'000'000u));
  app.add_option("--max-inputs-per-s", c.snapshots.max_inputs_per_second,
                 "demo mode: inputs per client per second; 0 = unlimited")
      ->check(CLI::Range(0u, 1'000'000u));
  app.add_option("--input-burst", c.snapshots.input_burst)->check(CLI::Range(1u, 1'000'000u));
  app.add_option("--channels", o.server.channel_limit)->check(CLI::Range(1, 255));
  app.add_flag("--checksum", o.server.checksum)->disable_flag_override();
  app.add_flag("--compress", o.server.compress)->disable_flag_override();
  // At most Config::tick_hz's 1,000 (Server::create refuses more, naming its field, not the flag).
  app.add_option("--tick-hz", o.tick_hz)->check(CLI::Range(0.001, 1000.0));
  app.add_option("--entities", o.entities, "demo mode: scene entities")->check(CLI::Range(0, 60000));
  app.add_option("--seed", o.seed, "demo mode: scene seed");
  app.add_option("--view-cell", o.view_cell,
                 "demo mode: interest grid cell in metres; a player sees the scene and the players in "
                 "the 3x3 cells around it (0 = every entity visible)")
      ->check(CLI::Range(0.0, 1000.0));
  app.add_option("--seconds", seconds)->check(CLI::Range(0.0, 1e9));
  app.add_option("--stats-json", o.stats_json);
#ifdef __linux__
  // epoll by default: at 512 peers and 60,000 echoes/s it cost 3.5 CPU-us per echo against
  // io_uring's 4.2 (medians of interleaved rounds, every round lower, same RTT; docs/scale.md,
  // issue 13). `auto` still picks io_uring first, and --backend io_uring still runs it with the
  // single-issuer ring and coalescing set below.
  o.server.backend = "epoll";
#endif
  app.add_option("--backend", o.server.backend)
      ->check(CLI::IsMember({"auto", "io_uring", "epoll", "iocp"}));
  // Bytes requested for the socket buffers; 0 keeps the OS default. What the kernel granted is
  // logged at info level (it doubles the request, and caps it unless FORCE is allowed).
  app.add_option("--recv-buffer", o.server.recv_buffer_bytes)->check(CLI::Range(0, 1 << 30));
  app.add_option("--send-buffer", o.server.send_buffer_bytes)->check(CLI::Range(0, 1 << 30));
  // io_uring: once datagrams flow, wait up to this long for a batch (0 = wake per completion).
  app.add_option("--coalesce-us", o.server.coalesce_us)->check(CLI::Range(0, 100'000));
  // main() creates, runs and destroys the Server on its own thread (stop() comes from the
  // signal thread, which the engine allows); with that ring, coalescing pays (docs/server.md).
  o.server.single_thread = true;
  // 300, not the engine's 200: at 512 peers x 60,000/s spread out it keeps a wake-up's batch
  // large enough for under 5 CPU-us per echo where 200 was over it in 4 runs of 10; bursty load,
  // 4,000 peers and idle cost the same (BENCHMARKS.md, twenty-sixth session).
  o.server.coalesce_us = 300;
  app.add_option("--log-level", level)->check(CLI::IsMember({"error", "warn", "info", "debug"}));
  app.add_option("--status-interval", o.status_interval_s, "0 = off")->check(CLI::Range(0.0, 86400.0));
  app.add_option("--metrics", o.metrics, "serve /metrics, /healthz, /readyz on ADDR:PORT (port 0 = any)");
  app.add_option("--drain-seconds", o.drain_seconds, "SIGTERM: serve connected peers this long at most")
      ->check(CLI::Range(0.0, 86400.0));
  app.add_flag("--agones", o.agones, "follow the Agones lifecycle through the SDK sidecar")
      ->disable_flag_override();
  app.add_option("--agones-health-interval", o.agones_health_interval_s)->check(CLI::Range(0.05, 3600.0));

  parsed.undocumented = support::undocumented_flags(app, usage());
  const support::CliOutcome outcome = support::parse_cli(app, args);
  if (outcome.help) {
    o.help = true;
    return parsed;
  }
  parsed.version = outcome.version;
  if (!parsed.version.empty()) return parsed;
  parsed.error = outcome.error;
  if (!parsed.error.empty()) return parsed;
  o.mode = modes.at(mode);
  c.ping_only_when_silent = keepalive == "when-silent";
  if (!level.empty()) o.log_level = levels.at(level);
  // (parse_cli refuses NaN for every floating-point flag: the range checks would let it through.)
  // The server's tick is a whole number of hertz (Config::tick_hz): 1.5 would run at 2.
  if (o.mode == Mode::kDemo && o.tick_hz < 1) parsed.error = "--tick-hz must be at least 1 in demo mode";
  if (o.mode == Mode::kDemo && o.tick_hz != std::floor(o.tick_hz))
    parsed.error = "--tick-hz must be a whole number of hertz in demo mode";
  // A status line every microsecond is a flood, not a status: at least a tenth of a second.
  if (o.status_interval_s > 0 && o.status_interval_s < 0.1) parsed.error = "--status-interval must be 0 (off) or at least 0.1";
  if (app.count("--seconds") > 0) {
    if (seconds <= 0) parsed.error = "--seconds must be a positive number";
    o.seconds = seconds;
  }
  if (app.count("--bind") > 0) {
    if (o.server.bind.empty()) parsed.error = "--bind needs an address";
    o.bind_given = true;
  }
  if (std::string e = support::output_path_error(app, "--stats-json", o.stats_json); !e.empty()) parsed.error = e;
  if (app.count("--metrics") > 0) {
    if (std::string error = check_listen_address(o.metrics); !error.empty()) parsed.error = "--metrics " + error;
  }
  if (c.max_waiting_data < c.max_packet_size)
    parsed.error = "--max-waiting-data must be at least --max-packet-size (a packet waits whole until complete)";
  if (c.max_waiting_total < c.max_waiting_data) parsed.error = "--max-waiting-total must be at least --max-waiting-data";
  if (c.timeout_minimum_ms > c.timeout_maximum_ms) parsed.error = "--peer-timeout-min must be at most --peer-timeout-max";
  return parsed;
}

}  // namespace volley::server::app
