// volley-bots as a process against volley-server over loopback: echo on both engines and the
// demo game on the client library, small and short; exit codes, the JSON report's keys and that
// its numbers agree with each other and with what the server counted.
#include <doctest/doctest.h>

#include <chrono>
#include <string>
#include <thread>

#include "cli_run.hpp"
#include "support/server_process.hpp"
#include "support/server_with_stats.hpp"

namespace volley::test {
namespace {

const std::string kBots = VOLLEY_BOTS_EXE;
const std::string kServer = VOLLEY_SERVER_EXE;

FlatJson report(const TempDir& dir, const std::string& name = "report.json") {
  const auto json = FlatJson::parse(read_file(dir.file(name)));
  REQUIRE(json);
  for (const char* key : {"bots", "connected", "failed", "reliable_sent", "reliable_received", "reliable_lost",
                          "reliable_duplicated", "reliable_out_of_order", "snapshots_received", "snapshots_applied",
                          "snapshots_dropped_old", "snapshots_dropped_corrupt", "snapshots_dropped_no_baseline",
                          "frame_regressions", "events_shown", "events_duplicated", "rtt_p50_us", "rtt_p99_us",
                          "rtt_max_us", "bytes_in_per_bot_s", "bytes_out_per_bot_s"}) {
    CHECK_MESSAGE(json->has(key), key);
  }
  return *json;
}

// `host` names the server's 127.0.0.1: numerically, or as "localhost" (resolved once by the bots;
// localhost's ::1 answer must not be the one taken, the server listens on IPv4 only).
void echo_run(const std::string& engine, const std::string& extra, const std::string& host = "127.0.0.1") {
  ServerWithStats server(kServer, {"--mode", "echo", "--bind", "127.0.0.1", "--port", "0"}, "bots-echo");
  TempDir dir;
  const std::string address = host + ":" + std::to_string(server.port());
  const Run r = run(dir, kBots + " --server " + address + " --engine " + engine +
                             " --bots 24 --sockets 2 --seconds 2 --rate 20 --report-json " + dir.file("report.json") +
                             " --report-html " + dir.file("report.html") + " " + extra);
  INFO(r.err);
  REQUIRE(r.exited);
  CHECK(r.code == 0);
  const FlatJson j = report(dir);
  CHECK(j.number("bots") == 24);
  CHECK(j.number("connected") == 24);
  CHECK(j.number("failed") == 0);
  CHECK(j.number("dropped") == 0);
  CHECK(j.number("reliable_sent") > 24 * 10);
  CHECK(j.number("reliable_received") == j.number("reliable_sent"));
  CHECK(j.number("reliable_lost") + j.number("reliable_duplicated") + j.number("reliable_out_of_order") == 0);
  CHECK(j.number("unreliable_sent") > 0);
  CHECK(j.number("rtt_p50_us") <= j.number("rtt_p99_us"));
  CHECK(j.number("rtt_p99_us") <= j.number("rtt_max_us"));
  CHECK(j.number("bytes_in_per_bot_s") > 0);
  CHECK(j.text("ok") == "true");
  CHECK(read_file(dir.file("report.html")).find("<svg") != std::string::npos);
  const FlatJson s = server.stop_and_stats();
  // Churned bots rejoin: one more connection each, and every connection ended gracefully.
  // (a rejoin still connecting at the end may or may not have reached the server).
  CHECK(s.number("connects") >= 24 + j.number("churn_rejoins"));
  CHECK(s.number("connects") <= 24 + j.number("churn_leaves"));
  CHECK(s.number("disconnects") == s.number("connects"));
  // Every reliable message reached the server (and came back: checked above); an unreliable one a
  // churning bot sends just before it leaves may be dropped with its session, so only a bound.
  CHECK(s.number("packets_in") <= j.number("packets_out"));
  CHECK(s.number("packets_in") >= j.number("reliable_sent"));
}

TEST_CASE("volley-bots --engine enet echo against volley-server: exit 0, everything back once and in order") {
  echo_run("enet", "--churn 4");
}

void game_run(const std::string& engine) {
  ServerWithStats server(kServer, {"--mode", "demo", "--bind", "127.0.0.1", "--port", "0", "--tick-hz", "30"},
                         "bots-demo");
  TempDir dir;
  const Run r = run(dir, kBots + " --server " + server.address() + " --engine " + engine +
                             " --behavior game --bots 6 --seconds 3 --chat-every 0.5 --report-json " +
                             dir.file("report.json"));
  INFO(r.err);
  REQUIRE(r.exited);
  CHECK(r.code == 0);
  const FlatJson j = report(dir);
  CHECK(j.number("connected") == 6);
  CHECK(j.number("snapshots_applied") > 6 * 30);
  CHECK(j.number("snapshots_applied") <= j.number("snapshots_received"));
  CHECK(j.number("frame_regressions") == 0);
  CHECK(j.number("events_duplicated") == 0);
  CHECK(j.number("chat_sent") > 6);
  // A line sent before a bot joined (plus the join grace) is not owed to it, so shown may fall a
  // little short of 6 x sent; every line owed to a bot is checked by chat_missed.
  CHECK(j.number("chat_shown") <= 6 * j.number("chat_sent"));
  CHECK(j.number("chat_shown") >= 6 * (j.number("chat_sent") - 3));
  CHECK(j.number("chat_missed") == 0);
  CHECK(j.number("events_shown") >= j.number("chat_shown"));
  const FlatJson s = server.stop_and_stats();
  CHECK(s.number("demo_chat_received") == j.number("chat_sent"));
}

TEST_CASE("volley-bots game bots against an echo server: no snapshot in 2 s is a violation, exit 1") {
  ServerWithStats server(kServer, {"--mode", "echo", "--bind", "127.0.0.1", "--port", "0"}, "bots-game-echo");
  TempDir dir;
  const Run r = run(dir, kBots + " --server " + server.address() + " --behavior game --bots 2 --seconds 2.5 --report-json " +
                             dir.file("report.json"));
  REQUIRE(r.exited);
  CHECK(r.code == 1);
  const FlatJson j = report(dir);
  CHECK(j.number("connected") == 2);
  CHECK(j.number("snapshots_applied") == 0);
  CHECK(j.number("sessions_without_snapshots") == 2);
}

// Ctrl-C in the middle of a long run: the bots leave gracefully and the report still comes.
TEST_CASE("volley-bots: SIGINT ends the run early with its report, every bot disconnected, a repeat within a second changes nothing") {
  for (const std::string engine : {"enet", "volley"}) {
    CAPTURE(engine);
    ServerWithStats server(kServer, {"--mode", "echo", "--bind", "127.0.0.1", "--port", "0"}, "bots-sigint");
    TempDir dir;
    const auto start = std::chrono::steady_clock::now();
    const Run r = run(dir, "sh -c '" + kBots + " --engine " + engine + " --server " + server.address() +
                               " --bots 3 --seconds 60 --report-json " + dir.file("report.json") +
                               " & p=$!; sleep 1.5; kill -INT $p; kill -TERM $p; wait $p'");
    INFO(r.err);
    REQUIRE(r.exited);
    CHECK(r.code == 0);
    CHECK(std::chrono::steady_clock::now() - start < std::chrono::seconds(20));
    const FlatJson j = report(dir);
    CHECK(j.text("interrupted") == "true");
    CHECK(j.number("seconds") < 10);
    CHECK(j.number("connected") == 3);
    CHECK(j.number("reliable_received") == j.number("reliable_sent"));
    const FlatJson s = server.stop_and_stats();
    CHECK(s.number("disconnects") == 3);
  }
}

// --size up to 4000: an unreliable message over one datagram went as reliable fragments (libenet's
// rule), came back reliable and was counted corrupt, so every such run failed.
TEST_CASE("volley-bots echo with --size over one datagram: unreliable messages come back unreliable, exit 0") {
  for (const std::string engine : {"enet", "volley"}) {
    CAPTURE(engine);
    ServerWithStats server(kServer, {"--mode", "echo", "--bind", "127.0.0.1", "--port", "0"}, "bots-large");
    TempDir dir;
    const Run r = run(dir, kBots + " --server " + server.address() + " --engine " + engine +
                               " --bots 2 --seconds 1 --rate 20 --size 4000 --report-json " + dir.file("report.json"));
    INFO(r.err);
    REQUIRE(r.exited);
    CHECK(r.code == 0);
    const FlatJson j = report(dir);
    CHECK(j.number("echo_corrupt") == 0);
    CHECK(j.number("unreliable_sent") > 0);
    CHECK(j.number("unreliable_received") > 0);
    CHECK(j.number("reliable_received") == j.number("reliable_sent"));
    CHECK(j.text("ok") == "true");
  }
}

TEST_CASE("volley-bots --engine volley echo against volley-server: Peers on the engine loop, 2 sockets") {
  echo_run("volley", "--churn 4", "localhost");
}

TEST_CASE("volley-bots game against the demo: frames forward, every chat line shown on every bot") {
  SUBCASE("--engine enet") { game_run("enet"); }
  SUBCASE("--engine volley") { game_run("volley"); }
}

// A connect burst over the sender's 256-event window: echo bots never acknowledge a snapshot, so
// every event raised after one joined stays pending for event_max_age (3 s at 30 Hz); 300 joins
// ("created" events) in that time overflow the window. The demo game holds the overflow and
// raises all of it once the window frees: nothing is refused, and every join and leave event
// reaches the sender.
TEST_CASE("volley-server --mode demo: a connect burst past the event window waits, none refused") {
  ServerWithStats server(kServer, {"--mode", "demo", "--bind", "127.0.0.1", "--port", "0", "--tick-hz", "30",
                                   "--per-ip-cap", "0"},
                         "bots-demo-burst");
  TempDir dir;
  const Run r = run(dir, kBots + " --server " + server.address() +
                             " --engine volley --behavior echo --bots 300 --sockets 4 --seconds 2 --rate 1");
  REQUIRE(r.exited);  // exit 1 expected: the demo does not echo
  // The bots have left: the next ticks free the window and raise what waits.
  std::this_thread::sleep_for(std::chrono::milliseconds(500));
  const FlatJson s = server.stop_and_stats();
  MESSAGE("joined ", s.number("demo_players_joined"), ", events deferred ", s.number("demo_events_deferred"),
          ", backlog peak ", s.number("demo_events_backlog_peak"));
  CHECK(s.number("demo_players_joined") > 256);
  CHECK(s.number("demo_events_deferred") > 0);
  CHECK(s.number("demo_events_refused") == 0);
  CHECK(s.number("demo_events_raised") >= s.number("demo_players_joined") + s.number("demo_players_left"));
  CHECK(s.number("events_raised") == s.number("demo_events_raised"));
}

TEST_CASE("volley-bots: fewer bots connected than asked is exit 1, a bad flag is one line and exit 2") {
  TempDir dir;
  // Nothing listens on this port (a server that stopped): nobody connects.
  std::uint16_t port = 0;
  {
    ServerWithStats server(kServer, {"--mode", "echo", "--bind", "127.0.0.1", "--port", "0"}, "bots-gone");
    port = server.process().port();
    server.stop_and_stats();
  }
  const Run none = run(dir, kBots + " --server 127.0.0.1:" + std::to_string(port) +
                                " --bots 3 --seconds 0.5 --drain 0 --report-json " + dir.file("none.json"));
  REQUIRE(none.exited);
  CHECK(none.code == 1);
  // Still connecting when the run ended: failed, not left out of the count.
  CHECK(report(dir, "none.json").number("failed") == 3);
  // Five at once against a cap of two: three lose the race, some after their handshake (then
  // CONNECTED on their side when the refusal comes). Failed, not connected and dropped.
  for (const std::string engine : {"enet", "volley"}) {
    ServerWithStats server(kServer, {"--mode", "echo", "--bind", "127.0.0.1", "--port", "0", "--per-ip-cap", "2"},
                           "bots-capped");
    const Run capped = run(dir, kBots + " --engine " + engine + " --server " + server.address() +
                                    " --bots 5 --seconds 1 --report-json " + dir.file("capped.json"));
    INFO(capped.err);
    REQUIRE(capped.exited);
    CHECK(capped.code == 1);
    const FlatJson j = report(dir, "capped.json");
    CHECK(j.number("connected") == 2);
    CHECK(j.number("failed") == 3);
    CHECK(j.number("dropped") == 0);
    CHECK(j.number("reliable_lost") == 0);
    CHECK(server.stop_and_stats().number("connects") == 2);
  }
  // Two channels of sends against a server of one: every send on channel 1 is refused by the
  // transport. Not a pass, and not counted sent.
  {
    ServerWithStats server(kServer, {"--mode", "echo", "--bind", "127.0.0.1", "--port", "0", "--channels", "1"},
                           "bots-one-channel");
    const Run refused = run(dir, kBots + " --server " + server.address() +
                                     " --bots 2 --seconds 1 --channels 2 --report-json " + dir.file("refused.json"));
    REQUIRE(refused.exited);
    CHECK(refused.code == 1);
    const FlatJson j = report(dir, "refused.json");
    CHECK(j.number("send_errors") > 0);
    CHECK(j.number("packets_out") == j.number("reliable_sent") + j.number("unreliable_sent"));
    CHECK(j.number("reliable_lost") == 0);
  }
  const Run bad = run(dir, kBots + " --server 127.0.0.1:1 --behavior dance");
  REQUIRE(bad.exited);
  CHECK(bad.code == 2);
  CHECK(bad.err.find('\n') == bad.err.size() - 1);
  // A --server that is not an address is a bad flag on either engine, not a run of failed
  // connects; a name that does not resolve stops the run before it starts (not after --seconds).
  for (const std::string engine : {"enet", "volley"}) {
    const Run malformed = run(dir, kBots + " --engine " + engine + " --server 127.0.0.1:99999 --seconds 30");
    REQUIRE(malformed.exited);
    CHECK(malformed.code == 2);
    CHECK(malformed.err.find("--server") != std::string::npos);
    CHECK(malformed.err.find('\n') == malformed.err.size() - 1);
  }
  const Run version = run(dir, kBots + " --version");
  REQUIRE(version.exited);
  CHECK(version.code == 0);
  REQUIRE(version.lines.size() == 1);
  CHECK(version.lines[0].rfind("volley ", 0) == 0);
  CHECK(version.lines[0].find(" on libenet 1.3.") != std::string::npos);
  for (const std::string engine : {"enet", "volley"}) {
    const auto start = std::chrono::steady_clock::now();
    const Run unknown = run(dir, kBots + " --engine " + engine + " --server no-such-host.invalid:7777 --seconds 30");
    REQUIRE(unknown.exited);
    CHECK(unknown.code == 1);
    CHECK(unknown.err.find("unresolvable") != std::string::npos);
    CHECK(unknown.err.find('\n') == unknown.err.size() - 1);
    CHECK(unknown.lines.empty());  // no report: no run
    CHECK(std::chrono::steady_clock::now() - start < std::chrono::seconds(20));
  }
}

}  // namespace
}  // namespace volley::test
