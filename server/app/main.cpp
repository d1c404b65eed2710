// volley-server: the DESIGN.md command-line contract (--mode echo, or --mode demo: the demo game). Parses flags (exit 2 on bad input), opens
// the Server, prints "listening ADDR:PORT", serves until SIGINT, SIGTERM or --seconds, stops
// gracefully, writes the stats JSON, exits 0. SIGINT stops at once (peers are told); SIGTERM
// drains first (Server::begin_drain, up to --drain-seconds), a second one (a second or more
// later) stops; SIGHUP is logged and ignored. Signals are taken by a control
// thread (blocked everywhere else and received with sigtimedwait), which also paces the status
// line and the publishing of stats for the operations endpoints (--metrics, --agones); it talks
// to the loop only through Server::stop(), begin_drain() and post().
#include <algorithm>
#include <atomic>
#include <chrono>
#include <cmath>
#include <memory>
#include <cstdio>
#include <string>
#include <thread>
#include <vector>

#include <signal.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>

#include "agones.hpp"
#include "demo/demo_game.hpp"
#include "echo.hpp"
#include "flags.hpp"
#include "ops_board.hpp"
#include "ops_http.hpp"
#include "report.hpp"
#include "volley/server/server.hpp"
#include "volley/server/version.hpp"

namespace {

using namespace volley::server;
using namespace volley::server::app;
using Clock = std::chrono::steady_clock;

constexpr int kExitUsage = 2;
// The loop publishes its stats this often for /metrics and the health checks; /healthz fails
// when no publish landed within the bound (the loop is stuck).
constexpr auto kPublishInterval = std::chrono::milliseconds(250);
constexpr auto kHealthBound = std::chrono::seconds(5);

void log_line(const char* level, const std::string& text) {
  std::fprintf(stderr, "volley-server: %s: %s\n", level, text.c_str());
}

// Posts a stats publish to the loop unless the previous one has not run yet (a stalled loop
// does not collect a pile of them).
void request_publish(Server& server, OpsBoard& board, std::atomic<bool>& pending) {
  if (pending.exchange(true)) return;
  server.post([&server, &board, &pending] {
    ServerStats stats = server.stats();
    board.publish(stats, Clock::now());
    pending.store(false);
  });
}

// The signals control() takes: SIGINT, SIGTERM and SIGHUP from outside, and SIGUSR1, which run()
// sends the control thread when the loop has ended.
sigset_t control_signals() {
  sigset_t set;
  sigemptyset(&set);
  sigaddset(&set, SIGINT);
  sigaddset(&set, SIGTERM);
  sigaddset(&set, SIGHUP);
  sigaddset(&set, SIGUSR1);
  return set;
}

// A second SIGTERM this soon after the first is the same request delivered twice (GNU timeout
// and some supervisors signal both the process and its group), not an operator insisting.
constexpr auto kRepeatedSigterm = std::chrono::seconds(1);

// Waits for a signal, the --seconds deadline, or the end of run(); asks for the status line and
// the publishes. It sleeps until the next of those is due (at most a second), not on a short
// poll: an idle server's control thread waking 20 times a second was about 4% of its CPU.
// Publishes only when something reads the board (--metrics, --agones): each publish sums every
// pooled peer's counters on the loop thread, which was a sixth of an idle server's CPU with
// 4,000 peers and no reader.
void control(Server& server, const Options& options, const std::atomic<bool>& done,
             StatusLine& status, Clock::time_point start, OpsBoard& board, bool publishing) {
  const sigset_t set = control_signals();
  const bool status_on = options.status_interval_s > 0 && options.log_level >= LogLevel::kInfo;
  const auto interval = std::chrono::duration<double>(options.status_interval_s);
  auto next_status = start + std::chrono::duration_cast<Clock::duration>(interval);
  bool stopping = false, draining = false;
  Clock::time_point drain_asked{};
  std::atomic<bool> publish_pending{false};
  auto next_publish = start;
  const bool info = options.log_level >= LogLevel::kInfo;
  auto end = Clock::time_point::max();  // --seconds
  if (options.seconds) {
    end = start + std::chrono::duration_cast<Clock::duration>(std::chrono::duration<double>(*options.seconds));
  }
  while (!done.load()) {
    Clock::time_point wake = Clock::now() + std::chrono::seconds(1);
    if (status_on) wake = std::min(wake, next_status);
    if (publishing) wake = std::min(wake, next_publish);
    if (!stopping) wake = std::min(wake, end);
    const auto ns = std::max<std::int64_t>(
        0, std::chrono::duration_cast<std::chrono::nanoseconds>(wake - Clock::now()).count());
    timespec wait{static_cast<time_t>(ns / 1'000'000'000), static_cast<long>(ns % 1'000'000'000)};
    const int sig = sigtimedwait(&set, nullptr, &wait);
    if (sig == SIGUSR1) continue;  // run() has returned: done is set
    const auto now = Clock::now();
    if (sig == SIGHUP) {
      // Nothing to reload (the flags are fixed at start), and a hangup must not end a match.
      if (info) log_line("info", "SIGHUP: ignored (no reload; SIGTERM drains, SIGINT stops)");
      continue;
    }
    if (sig == SIGTERM && draining && now - drain_asked < kRepeatedSigterm) continue;
    // SIGTERM drains; SIGINT, or a second SIGTERM during the drain, stops at once.
    if (sig == SIGTERM && !stopping && !draining) {
      drain_asked = now;
      const double limit = options.drain_seconds;
      char text[96];
      std::snprintf(text, sizeof(text), "SIGTERM: draining (refusing new peers) for up to %g s", limit);
      if (info) log_line("info", text);
      draining = true;
      board.mark_not_accepting();
      server.begin_drain(static_cast<std::uint32_t>(std::llround(limit * 1000)));
    } else if (sig > 0 && !stopping) {
      if (info) log_line("info", sig == SIGINT ? "SIGINT: stopping" : "SIGTERM again: stopping");
      stopping = true;
      board.mark_not_accepting();
      server.stop();
    }
    if (!stopping && now >= end) {
      stopping = true;
      board.mark_not_accepting();
      server.stop();
    }
    if (publishing && now >= next_publish) {
      next_publish = now + kPublishInterval;
      request_publish(server, board, publish_pending);
    }
    if (status_on && now >= next_status) {
      next_status += std::chrono::duration_cast<Clock::duration>(interval);
      if (next_status < now) next_status = now + std::chrono::duration_cast<Clock::duration>(interval);
      server.post([&server, &status, start] {
        const double t = std::chrono::duration<double>(Clock::now() - start).count();
        log_line("info", status.next(server.stats(), t, process_cpu()));
      });
    }
  }
}

std::uint64_t detail(const ServerStats& stats, const std::string& key) {
  for (const auto& [k, v] : stats.details) {
    if (k == key) return v;
  }
  return 0;
}

// The demo game's counters and the snapshot bytes per connected client per second.
Figures demo_figures(const volley::demo::DemoGame& game, const ServerStats& stats, std::uint32_t hz) {
  const auto& c = game.counters();
  const auto& e = game.event_counters();
  const double client_seconds = static_cast<double>(c.player_ticks) / hz;
  const double bytes = static_cast<double>(detail(stats, "snapshot_bytes"));
  return {{"demo_players_joined", c.players_joined},
          {"demo_players_left", c.players_left},
          {"demo_inputs", c.inputs},
          {"demo_inputs_malformed", c.inputs_malformed},
          {"demo_chat_received", c.chat_received},
          {"demo_chat_malformed", c.chat_malformed},
          {"demo_chat_rate_limited", c.chat_rate_limited},
          {"demo_events_raised", e.raised},
          {"demo_events_deferred", e.deferred},
          {"demo_events_refused", e.refused},
          {"demo_events_backlog_peak", e.peak},
          {"snapshot_bytes_per_client_s",
           client_seconds > 0 ? static_cast<std::uint64_t>(std::llround(bytes / client_seconds)) : 0}};
}

// False when the kernel has no IPv6 at all (booted with ipv6.disable=1, or built without it).
bool ipv6_available() {
  const int fd = ::socket(AF_INET6, SOCK_DGRAM | SOCK_CLOEXEC, 0);
  if (fd < 0) return errno != EAFNOSUPPORT;
  ::close(fd);
  return true;
}

int run(const Options& options) {
  // Before any thread exists, so every thread inherits the mask and only control() takes them.
  const sigset_t set = control_signals();
  pthread_sigmask(SIG_BLOCK, &set, nullptr);

  Config config = options.server;
  const bool demo = options.mode == Mode::kDemo;
  if (demo) {
    config.tick_hz = static_cast<std::uint32_t>(std::lround(options.tick_hz));
    config.snapshots.schema = volley::demo::DemoGame::schema();
  }
  auto created = Server::create(config);
  if (!created && !options.bind_given && !ipv6_available()) {
    // A host without IPv6 cannot open the dual-stack default; serve IPv4 alone. Only then: a
    // port in use is an error, not a quiet IPv4-only server sharing the port number.
    Config v4 = config;
    v4.bind = "0.0.0.0";
    if (auto retry = Server::create(v4)) {
      created = std::move(retry);
      if (options.log_level >= LogLevel::kWarn) log_line("warn", "no IPv6 on this host: serving IPv4 only (0.0.0.0)");
    }
  }
  if (!created) {
    log_line("error", created.error);
    return kExitUsage;
  }
  Server& server = *created.server;
  DebugLog debug;
  if (options.log_level >= LogLevel::kDebug) debug = [](const std::string& s) { log_line("debug", s); };
  std::unique_ptr<volley::demo::DemoGame> game;
  if (demo) {
    game = std::make_unique<volley::demo::DemoGame>(
        server, volley::demo::DemoGameConfig{.seed = options.seed,
                                             .entities = options.entities,
                                             .tick_hz = static_cast<double>(config.tick_hz),
                                             .view_cell = options.view_cell,
                                             .event_backlog = std::min<std::size_t>(4 * config.max_peers, 65536)});
    server.set_callbacks(game->callbacks());
  } else {
    server.set_callbacks(echo_callbacks(server, debug));
  }
  if (options.log_level >= LogLevel::kWarn && !server.backend_note().empty()) {
    log_line("warn", "backend: " + server.backend_note());
  }
  // The operations endpoints listen before "listening" is printed, so a supervisor that has read
  // that line can scrape at once; their address comes first, on its own line.
  OpsBoard board;
  std::unique_ptr<OpsHttp> ops;
  if (!options.metrics.empty()) {
    std::string error;
    ops = OpsHttp::start(options.metrics, board, kHealthBound, error);
    if (!ops) {
      log_line("error", error);
      return kExitUsage;
    }
    std::printf("metrics http://%s/metrics\n", ops->address().c_str());
  }
  std::unique_ptr<Agones> agones;
  if (options.agones) {
    std::string error;
    const AgonesEndpoint endpoint = agones_endpoint_from_env(error);
    if (!error.empty()) {
      log_line("error", error);
      return kExitUsage;
    }
    const auto interval = std::chrono::milliseconds(std::llround(options.agones_health_interval_s * 1000));
    agones = std::make_unique<Agones>(
        endpoint, interval, [&board] { return board.healthy(Clock::now(), kHealthBound); },
        [&board] { return board.marked_not_accepting(); },
        [&options](const std::string& level, const std::string& text) {
          if (options.log_level >= (level == "warn" ? LogLevel::kWarn : LogLevel::kInfo)) log_line(level.c_str(), text);
        });
  }
  std::printf("listening %s\n", server.local_address().c_str());
  std::fflush(stdout);
  if (options.log_level >= LogLevel::kInfo) {
    const std::string mode = demo ? "demo mode (" + std::to_string(options.entities) + " entities, " +
                                        std::to_string(config.tick_hz) + " Hz)"
                                  : std::string("echo mode");
    log_line("info", std::string(volley::server::version()) + ": " + mode + ", backend " +
                         std::string(server.backend()) + ", max peers " +
                         std::to_string(options.server.max_peers));
    // Never assume the request was honoured: rmem_max caps it unless FORCE was allowed.
    log_line("info", "socket buffers: recv requested " + std::to_string(options.server.recv_buffer_bytes) +
                         " granted " + std::to_string(server.recv_buffer_granted()) +
                         ", send requested " + std::to_string(options.server.send_buffer_bytes) +
                         " granted " + std::to_string(server.send_buffer_granted()));
  }

  std::atomic<bool> done{false};
  StatusLine status(process_cpu());
  const auto start = Clock::now();
  std::thread controller([&] { control(server, options, done, status, start, board, ops || agones); });
  if (agones) agones->ready();
  server.run();
  done.store(true);
  pthread_kill(controller.native_handle(), SIGUSR1);
  controller.join();

  const ServerStats stats = server.stats();
  if (!options.stats_json.empty()) {
    std::string error;
    Figures extra;
    if (game) extra = demo_figures(*game, stats, config.tick_hz);
    // The setting beside the naps it produced (loop_naps): a benchmark's row names its own cap.
    extra.emplace_back("coalesce_us", config.coalesce_us);
    if (!write_file(options.stats_json, stats_json(stats, process_cpu(), server, extra), error)) {
      log_line("error", error);
      return 1;
    }
  }
  if (options.log_level >= LogLevel::kInfo) {
    char ran[32];
    std::snprintf(ran, sizeof(ran), "%.1f", std::chrono::duration<double>(Clock::now() - start).count());
    log_line("info", std::string("stopped after ") + ran + " s: connects=" + std::to_string(stats.connects) +
                         " packets_in=" + std::to_string(stats.packets_in) +
                         " packets_out=" + std::to_string(stats.packets_out) +
                         " local_disconnects=" + std::to_string(detail(stats, "local_disconnects")));
  }
  agones.reset();  // Shutdown, sent last: the stats are written
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  const std::vector<std::string> args(argv + 1, argv + argc);
  const Parsed parsed = parse_flags(args);
  if (parsed.options.help) {
    std::fputs(usage().c_str(), stdout);
    return 0;
  }
  if (!parsed.version.empty()) {
    std::printf("%s\n", parsed.version.c_str());
    return 0;
  }
  if (!parsed.error.empty()) {
    log_line("error", parsed.error);
    return kExitUsage;
  }
  return run(parsed.options);
}
