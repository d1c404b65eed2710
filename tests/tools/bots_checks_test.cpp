// volley-bots' pure pieces: the echo and game invariant checkers fed deliberately broken streams
// (each break must be caught, and a clean stream must pass), the echo payload's integrity check,
// the RTT histogram, the report's JSON keys and its HTML, the command line's errors, and the
// swarm's send pacing (the stepped rate ramp tools/bench/bench.sh uses).
#include <doctest/doctest.h>

#include <algorithm>
#include <string>
#include <vector>

#include "echo_checker.hpp"
#include "game_checker.hpp"
#include "json_check.hpp"
#include "latency_histogram.hpp"
#include "options.hpp"
#include "report.hpp"
#include "support/seed.hpp"
#include "swarm.hpp"
#include "volley/support/stepped_rate.hpp"

namespace volley::bots {
namespace {

// A bot's stream of echo messages as the checker would hand them out, encoded.
struct Sent {
  std::uint8_t channel;
  Delivery delivery;
  std::vector<std::uint8_t> bytes;
};

std::vector<Sent> send_n(EchoChecker& c, std::size_t n, std::uint8_t channel, Delivery d, TimePoint t = 1000) {
  std::vector<Sent> out;
  for (std::size_t i = 0; i < n; ++i) {
    const EchoMessage m = c.next(channel, d, t);
    std::vector<std::uint8_t> bytes(64);
    REQUIRE(encode_echo(m, bytes));
    out.push_back({channel, d, bytes});
  }
  return out;
}

EchoCounts feed(EchoChecker& c, const std::vector<Sent>& sent, const std::vector<std::size_t>& order) {
  for (std::size_t i : order) c.on_echo(sent[i].channel, sent[i].delivery, sent[i].bytes, 2000);
  return c.finish();
}

TEST_CASE("echo checker: a clean reliable stream passes, with its RTT") {
  EchoChecker c(7, 2);
  auto a = send_n(c, 5, 0, Delivery::kReliable, 1000);
  auto b = send_n(c, 5, 1, Delivery::kReliable, 1000);
  for (std::size_t i = 0; i < 5; ++i) {
    CHECK(c.on_echo(1, Delivery::kReliable, b[i].bytes, 1500) == 500);  // channels interleave freely
    CHECK(c.on_echo(0, Delivery::kReliable, a[i].bytes, 1700) == 700);
  }
  CHECK(c.reliable_outstanding() == 0);
  const EchoCounts n = c.finish();
  CHECK(n.reliable_sent == 10);
  CHECK(n.reliable_received == 10);
  CHECK(n.violations() == 0);
}

TEST_CASE("echo checker: a message the transport refused is not sent, and leaves no gap") {
  EchoChecker c(3, 1);
  auto s = send_n(c, 2, 0, Delivery::kReliable);
  c.unsend(c.next(0, Delivery::kReliable, 1000));
  c.unsend(c.next(0, Delivery::kUnreliable, 1000));
  auto more = send_n(c, 1, 0, Delivery::kReliable);
  s.push_back(more[0]);
  const EchoCounts n = feed(c, s, {0, 1, 2});  // sequences 0, 1, 2: the refused one's reused
  CHECK(n.reliable_sent == 3);
  CHECK(n.unreliable_sent == 0);
  CHECK(n.reliable_received == 3);
  CHECK(n.violations() == 0);
}

TEST_CASE("echo checker: a lost reliable message is caught") {
  EchoChecker c(1, 1);
  auto s = send_n(c, 5, 0, Delivery::kReliable);
  const EchoCounts n = feed(c, s, {0, 1, 3, 4});
  CHECK(n.reliable_lost == 1);
  CHECK(n.reliable_received == 4);
  CHECK(n.violations() == 1);
}

TEST_CASE("echo checker: the last reliable message never coming back is lost") {
  EchoChecker c(1, 1);
  auto s = send_n(c, 3, 0, Delivery::kReliable);
  feed(c, s, {0, 1});
  CHECK(c.counts().reliable_lost == 1);
}

TEST_CASE("echo checker: a duplicated reliable message is caught") {
  EchoChecker c(1, 1);
  auto s = send_n(c, 4, 0, Delivery::kReliable);
  const EchoCounts n = feed(c, s, {0, 1, 1, 2, 3});
  CHECK(n.reliable_duplicated == 1);
  CHECK(n.reliable_lost == 0);
  CHECK(n.violations() == 1);
}

TEST_CASE("echo checker: a reordered reliable message is caught") {
  EchoChecker c(1, 1);
  auto s = send_n(c, 4, 0, Delivery::kReliable);
  const EchoCounts n = feed(c, s, {0, 2, 1, 3});
  CHECK(n.reliable_out_of_order == 1);
  CHECK(n.reliable_lost == 0);
  CHECK(n.reliable_duplicated == 0);
  CHECK(n.violations() == 1);
}

TEST_CASE("echo checker: random breaks of a long stream are each counted") {
  VOLLEY_SEEDED_RNG(rng, 1);
  EchoChecker c(3, 1);
  auto s = send_n(c, 200, 0, Delivery::kReliable);
  std::vector<std::size_t> order(200);
  for (std::size_t i = 0; i < order.size(); ++i) order[i] = i;
  const std::size_t lost = 10 + rng() % 150, dup = 10 + rng() % 150;
  order.erase(order.begin() + static_cast<std::ptrdiff_t>(lost));
  order.insert(order.begin() + static_cast<std::ptrdiff_t>(dup) + 1, order[dup]);
  const EchoCounts n = feed(c, s, order);
  CHECK(n.reliable_lost == 1);
  CHECK(n.reliable_duplicated == 1);
  CHECK(n.reliable_out_of_order == 0);
}

TEST_CASE("echo checker: unreliable may be lost but never reordered or doubled") {
  EchoChecker c(1, 1);
  auto s = send_n(c, 5, 0, Delivery::kUnreliable);
  CHECK(feed(c, s, {0, 2, 4}).violations() == 0);  // loss is allowed
  EchoChecker r(1, 1);
  auto t = send_n(r, 5, 0, Delivery::kUnreliable);
  CHECK(feed(r, t, {0, 2, 1, 3}).unreliable_reordered == 1);
  EchoChecker d(1, 1);
  auto u = send_n(d, 3, 0, Delivery::kUnreliable);
  CHECK(feed(d, u, {0, 1, 1, 2}).unreliable_reordered == 1);
}

TEST_CASE("echo checker: an unreliable message back as unreliable fragments (over one datagram) is the unreliable stream") {
  EchoChecker c(1, 1);
  auto s = send_n(c, 3, 0, Delivery::kUnreliable);
  CHECK(c.on_echo(0, Delivery::kUnreliableFragment, s[0].bytes, 2000));
  CHECK(c.on_echo(0, Delivery::kUnreliable, s[2].bytes, 2000));
  CHECK_FALSE(c.on_echo(0, Delivery::kUnreliableFragment, s[1].bytes, 2000));  // older: reordered
  const EchoCounts n = c.finish();
  CHECK(n.unreliable_received == 2);
  CHECK(n.unreliable_reordered == 1);
  CHECK(n.corrupt == 0);
  EchoChecker r(1, 1);  // a reliable message is not one
  auto t = send_n(r, 1, 0, Delivery::kReliable);
  CHECK_FALSE(r.on_echo(0, Delivery::kUnreliableFragment, t[0].bytes, 2000));
  CHECK(r.counts().corrupt == 1);
}

TEST_CASE("echo checker: a changed payload, another bot's message or the wrong channel or delivery is corrupt") {
  EchoChecker c(1, 2);
  auto s = send_n(c, 3, 0, Delivery::kReliable);
  std::vector<std::uint8_t> flipped = s[0].bytes;
  flipped[40] ^= 0x10;
  CHECK_FALSE(c.on_echo(0, Delivery::kReliable, flipped, 2000));
  CHECK_FALSE(c.on_echo(1, Delivery::kReliable, s[0].bytes, 2000));    // wrong channel
  CHECK_FALSE(c.on_echo(0, Delivery::kUnreliable, s[0].bytes, 2000));  // wrong delivery
  EchoChecker other(2, 2);
  auto o = send_n(other, 1, 0, Delivery::kReliable);
  CHECK_FALSE(c.on_echo(0, Delivery::kReliable, o[0].bytes, 2000));
  CHECK_FALSE(c.on_echo(0, Delivery::kReliable, std::vector<std::uint8_t>(10, 0), 2000));  // short
  EchoChecker ahead(1, 2);  // the same bot further along: its 4th message, c never sent
  auto a = send_n(ahead, 4, 0, Delivery::kReliable);
  CHECK_FALSE(c.on_echo(0, Delivery::kReliable, a[3].bytes, 2000));
  CHECK(c.counts().corrupt == 6);
  CHECK(c.counts().reliable_received == 0);
}

TEST_CASE("game checker: frames forward and events once pass, a regressing frame and a twice-shown event are caught") {
  GameChecker clean;
  for (std::uint32_t f = 10; f < 20; f += 2) clean.on_frame(f);
  for (std::uint64_t id = 100; id < 110; ++id) CHECK(clean.on_event(id));
  CHECK(clean.on_event(99));  // first time, below the newest: still fine
  CHECK(clean.counts().violations() == 0);
  CHECK(clean.counts().events_shown == 11);

  GameChecker frames;
  frames.on_frame(5);
  frames.on_frame(6);
  frames.on_frame(4);
  frames.on_frame(6);  // the same frame applied twice is not forward either
  CHECK(frames.counts().frame_regressions == 2);

  GameChecker events;
  CHECK(events.on_event(1));
  CHECK(events.on_event(2));
  CHECK_FALSE(events.on_event(1));
  CHECK(events.on_event(5000));
  CHECK_FALSE(events.on_event(2));  // still inside the window
  CHECK(events.counts().events_duplicated == 2);
  CHECK(events.counts().violations() == 2);
}

TEST_CASE("game checker: ids older than the window are counted unchecked, not duplicated") {
  GameChecker g(64);
  CHECK(g.on_event(1));
  CHECK(g.on_event(1000));
  CHECK(g.on_event(1));
  CHECK(g.counts().events_unchecked == 1);
  CHECK(g.counts().events_duplicated == 0);
  GameChecker edge(64);  // exactly a window behind the newest is unchecked, one less is checked
  CHECK(edge.on_event(100));
  CHECK(edge.on_event(36));
  CHECK(edge.counts().events_unchecked == 1);
  CHECK(edge.on_event(37));
  CHECK_FALSE(edge.on_event(37));
  CHECK(edge.counts().events_unchecked == 1);
  CHECK(edge.counts().events_duplicated == 1);
}

TEST_CASE("latency histogram: percentiles within a bucket's width") {
  LatencyHistogram h;
  for (TimePoint v = 1; v <= 10000; ++v) h.record(v);
  CHECK(h.count() == 10000);
  CHECK(h.max() == 10000);
  CHECK(h.percentile(50) >= 5000);
  CHECK(h.percentile(50) <= 5000 * 33 / 32);
  CHECK(h.percentile(99) >= 9900);
  CHECK(h.percentile(100) == 10000);
  LatencyHistogram g;
  g.record(20);
  g.merge(h);
  CHECK(g.count() == 10001);
  g.clear();
  CHECK(g.percentile(50) == 0);
}

TEST_CASE("report: the contract's JSON keys in one object, and an HTML page with four plots") {
  Report r;
  r.info.engine = "enet";
  r.info.behavior = "echo";
  r.info.server = "127.0.0.1:1<&>";
  r.totals.bots = 2;
  r.totals.connected = 2;
  r.rtt.record(150);
  r.series.push_back({1, 2, 10, 10, 150, 150, 0});
  r.series.push_back({2, 2, 20, 20, 150, 300, 0});
  const std::string json = report_json(r);
  CHECK(test::JsonCheck::is_object(json));
  for (const char* key : {"bots", "connected", "failed", "reliable_sent", "reliable_received", "reliable_lost",
                          "reliable_duplicated", "reliable_out_of_order", "snapshots_received", "snapshots_applied",
                          "snapshots_dropped_old", "snapshots_dropped_corrupt", "snapshots_dropped_no_baseline",
                          "frame_regressions", "events_shown", "events_duplicated", "rtt_p50_us", "rtt_p99_us",
                          "rtt_max_us", "bytes_in_per_bot_s", "bytes_out_per_bot_s"}) {
    CHECK_MESSAGE(json.find("\"" + std::string(key) + "\":") != std::string::npos, key);
  }
  CHECK(r.ok());
  const std::string html = report_html(r);
  std::size_t svgs = 0;
  for (std::size_t at = html.find("<svg"); at != std::string::npos; at = html.find("<svg", at + 1)) ++svgs;
  CHECK(svgs == 4);
  CHECK(html.find("1&lt;&amp;&gt;") != std::string::npos);  // text from the command line is escaped
  r.totals.echo.reliable_lost = 1;
  CHECK_FALSE(r.ok());
  r.totals.echo.reliable_lost = 0;
  r.totals.connected = 1;
  CHECK_FALSE(r.ok());
}

// A transport that accepts everything and counts echo sends.
struct CountingTransport final : Transport {
  std::size_t sends = 0;
  bool connect(std::size_t) override { return true; }
  void disconnect(std::size_t) override {}
  SendResult send(std::size_t, std::uint8_t, Bytes, Delivery) override {
    ++sends;
    return SendResult::kOk;
  }
  SendResult send_input(std::size_t, Bytes) override { return SendResult::kOk; }
  std::optional<TimePoint> rtt(std::size_t) override { return std::nullopt; }
};

std::size_t sends_by(Swarm& swarm, CountingTransport& t, TimePoint until) {
  for (TimePoint now = 0; now <= until; now += 1000) swarm.tick(now);
  return t.sends;
}

TEST_CASE("swarm pacing: a constant rate, and the stepped ramp doubling it on schedule") {
  SwarmConfig c;
  c.bots = 4;
  c.rate_hz = 10;
  c.mix = EchoMix::kUnreliable;
  CountingTransport t;
  Swarm constant(c, t);
  constant.start(0);
  for (std::size_t i = 0; i < c.bots; ++i) constant.on_connected(i, 0);
  CHECK(sends_by(constant, t, 3'000'000) == doctest::Approx(4 * 10 * 3).epsilon(0.03));

  // 1 s at 10 Hz, 1 s at 20 Hz, 1 s at 40 Hz: 4 x 70 sends.
  c.double_after_s = 1;
  c.double_every_s = 1;
  CountingTransport r;
  Swarm ramp(c, r);
  ramp.start(0);
  for (std::size_t i = 0; i < c.bots; ++i) ramp.on_connected(i, 0);
  CHECK(sends_by(ramp, r, 1'000'000) == doctest::Approx(40).epsilon(0.05));
  CHECK(sends_by(ramp, r, 3'000'000) == doctest::Approx(4 * 70).epsilon(0.03));
}

TEST_CASE("stepped rate: either flag alone is a ramp, both 0 a constant rate") {
  using volley::support::stepped_rate;
  CHECK(stepped_rate(10, 5, 0, 0) == 10);
  // after and every: 10 until 2 s, 20 until 3 s, 40 until 4 s.
  CHECK(stepped_rate(10, 1.9, 2, 1) == 10);
  CHECK(stepped_rate(10, 2.0, 2, 1) == 20);
  CHECK(stepped_rate(10, 3.5, 2, 1) == 40);
  // every alone: the first doubling one interval in, not at the start.
  CHECK(stepped_rate(10, 0.0, 0, 1) == 10);
  CHECK(stepped_rate(10, 1.0, 0, 1) == 20);
  CHECK(stepped_rate(10, 2.5, 0, 1) == 40);
  // after alone: one doubling.
  CHECK(stepped_rate(10, 0.5, 1, 0) == 10);
  CHECK(stepped_rate(10, 1.0, 1, 0) == 20);
  CHECK(stepped_rate(10, 99, 1, 0) == 20);
}

TEST_CASE("swarm pacing: after a stall only 20 ms of the rate (or one turn each) is caught up") {
  SwarmConfig c;
  c.bots = 2;
  c.rate_hz = 5000;  // 10,000 sends/s: the 20 ms slack (200 sends) exceeds one turn (2)
  c.mix = EchoMix::kUnreliable;
  CountingTransport t;
  Swarm swarm(c, t);
  swarm.start(0);
  for (std::size_t i = 0; i < c.bots; ++i) swarm.on_connected(i, 0);
  swarm.tick(1000);
  const std::size_t before = t.sends;
  swarm.tick(1'001'000);  // a 1 s stall: 10,000 sends owed, 200 made
  CHECK(t.sends - before == doctest::Approx(200).epsilon(0.02));
}

TEST_CASE("options: NaN is refused by the one parse_cli rule, whichever float flag takes it") {
  for (const char* flag : {"--seconds", "--rate", "--churn", "--drain", "--rate-double-every"}) {
    CAPTURE(flag);
    const Parsed p = parse_options({"--server", "127.0.0.1:9", flag, "nan"});
    CHECK(p.error == std::string(flag) + ": expected a number, got 'nan'");
  }
  // A string flag may hold the text "nan": only floating-point options are checked.
  CHECK(parse_options({"--server", "nan:9"}).error.empty());
  // A report that cannot be written is found before the run.
  CHECK(parse_options({"--server", "127.0.0.1:9", "--report-html", "/nonexistent-volley-dir/r.html"}).error ==
        "--report-html: cannot write '/nonexistent-volley-dir/r.html': No such file or directory");
  CHECK(parse_options({"--server", "127.0.0.1:9", "--report-json", ""}).error == "--report-json needs a path");
  // An unsigned one does not wrap a negative number to 2^64 - 1.
  CHECK(parse_options({"--server", "127.0.0.1:9", "--seed", "-1"}).error == "--seed: expected a non-negative integer, got '-1'");
  CHECK(parse_options({"--server", "127.0.0.1:9", "--seed", "7"}).options.swarm.seed == 7);
  // Past 64 bits: refused, not the saturated 2^64 - 1 CLI11 2.1 takes silently.
  CHECK(parse_options({"--server", "127.0.0.1:9", "--seed", "18446744073709551616"}).error ==
        "--seed: Value 18446744073709551616 not in range 0 to 18446744073709551615");
  CHECK(parse_options({"--server", "127.0.0.1:9", "--seed", "18446744073709551615"}).options.swarm.seed ==
        18446744073709551615ull);
}

TEST_CASE("options: defaults per behavior, and every problem is one line") {
  Parsed p = parse_options({"--server", "127.0.0.1:9", "--behavior", "game", "--bots", "9000"});
  REQUIRE(p.error.empty());
  CHECK(p.options.swarm.rate_hz == 30);
  CHECK(p.options.swarm.chat_every_s == 60);
  CHECK(p.options.sockets == 71);  // game bots on libenet: one host per 128 bots
  CHECK(parse_options({"--server", "127.0.0.1:9", "--behavior", "game", "--bots", "9000", "--engine", "volley"})
            .options.sockets == 3);
  const Parsed capped = parse_options({"--server", "127.0.0.1:9", "--engine", "volley", "--peer-rto-cap", "1000",
                                       "--peer-timeout-limit", "64", "--peer-timeout-min", "8000",
                                       "--peer-timeout-max", "60000"});
  REQUIRE(capped.error.empty());
  CHECK(capped.options.rto_cap_ms == 1000);
  CHECK(capped.options.timeout_limit == 64);
  CHECK(capped.options.timeout_minimum_ms == 8000);
  CHECK(capped.options.timeout_maximum_ms == 60000);
  CHECK(capped.options.step_us == 1000);
  CHECK(parse_options({"--server", "127.0.0.1:9", "--engine", "volley", "--step-us", "50"}).options.step_us == 50);
  const Parsed echo = parse_options({"--server", "127.0.0.1:9", "--bots", "1000"});
  CHECK(echo.options.swarm.rate_hz == 10);
  CHECK(echo.options.sockets == 1);
  for (const std::vector<std::string>& bad : std::vector<std::vector<std::string>>{
           {}, {"--server", "x:1", "--engine", "libenet"}, {"--server", "x:1", "--bots", "0"},
           {"--server", "x:1", "--bogus"}, {"--server", "x:1", "--bots", "9000", "--sockets", "1"},
           {"--server", "x:1", "--report-json="},
           // The resend interval cap is Volley's Peer's (libenet has none); min above max.
           {"--server", "x:1", "--peer-rto-cap", "1000"},
           {"--server", "x:1", "--peer-timeout-min", "9000", "--peer-timeout-max", "8000"},
           // The swarm's turn is the engine Loop's timer; 10 us at least.
           {"--server", "x:1", "--step-us", "50"},
           {"--server", "x:1", "--engine", "volley", "--step-us", "5"}}) {
    const Parsed q = parse_options(bad);
    CHECK_FALSE(q.error.empty());
    CHECK(q.error.find('\n') == std::string::npos);
  }
}

}  // namespace
}  // namespace volley::bots
