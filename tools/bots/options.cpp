#include "options.hpp"

#include <cmath>

#include "volley/client/address.hpp"
#include "volley/client/host.hpp"
#include "volley/client/version.hpp"
#include "volley/support/cli.hpp"

namespace volley::bots {

Parsed parse_options(const std::vector<std::string>& args) {
  Parsed parsed;
  Options& o = parsed.options;
  SwarmConfig& s = o.swarm;
  double rate = 0;
  std::string mix = "mixed";
  CLI::App app("volley-bots: a swarm of checking bots against an ENet server (docs/bots.md)", "volley-bots");
  app.set_version_flag("--version", [] { return client::version(); });
  app.add_option("--server", o.server, "HOST:PORT")->required()->check([](const std::string& text) {
    // The client library's own words for what connect() would say of it.
    return client::parse_endpoint(text)
               ? std::string()
               : "'" + text + "': " + std::string(client::connect_error_text(client::ConnectError::kMalformedAddress));
  });
  app.add_option("--bots", s.bots)->check(CLI::Range(1, 1'000'000));
  app.add_option("--sockets", o.sockets, "0: one per 4,000 bots")->check(CLI::Range(0, 4096));
  app.add_option("--seconds", o.seconds)->check(CLI::Range(0.1, 1e6));
  app.add_option("--rate", rate, "messages (echo) or inputs (game) per bot per second; default 10 / 30")
      ->check(CLI::Range(0.0, 100000.0));
  app.add_option("--rate-double-every", s.double_every_s, "a stepped load ramp: the rate doubles every S seconds")
      ->check(CLI::Range(0.0, 1e6));
  app.add_option("--rate-double-after", s.double_after_s, "the ramp's first doubling, seconds after the start")
      ->check(CLI::Range(0.0, 1e6));
  app.add_option("--behavior", o.behavior)->check(CLI::IsMember({"echo", "game"}));
  app.add_option("--engine", o.engine)->check(CLI::IsMember({"enet", "volley"}));
  app.add_option("--churn", s.churn_per_s, "bots leaving and rejoining per second")->check(CLI::Range(0.0, 1e6));
  app.add_option("--ramp", s.ramp_per_s, "connects per second; 0 = all at once")->check(CLI::Range(0.0, 1e7));
  app.add_option("--report-json", o.report_json);
  app.add_option("--report-html", o.report_html);
  app.add_flag("--progress", o.progress, "progress line on stderr even when it is not a terminal")
      ->disable_flag_override();
  app.add_option("--size", s.size, "echo payload bytes")->check(CLI::Range(24, 4000));
  app.add_option("--channels", s.channels, "echo channels")->check(CLI::Range(1, 255));
  app.add_option("--delivery", mix, "echo messages: reliable, unreliable or mixed (alternating)")
      ->check(CLI::IsMember({"reliable", "unreliable", "mixed"}));
  app.add_option("--chat-every", s.chat_every_s, "game: seconds between a bot's chat lines (default 60); 0 = none")
      ->check(CLI::Range(0.0, 1e6));
  app.add_option("--drain", o.drain_s, "seconds to wait for the last echoes and chat lines")->check(CLI::Range(0.0, 600.0));
  app.add_option("--seed", s.seed);
  app.add_option("--peer-timeout-limit", o.timeout_limit, "enet_peer_timeout's limit; 0 = libenet's 32")
      ->check(CLI::Range(0u, 1u << 30));
  app.add_option("--peer-timeout-min", o.timeout_minimum_ms, "ms; 0 = libenet's 5000")->check(CLI::Range(0u, 1u << 30));
  app.add_option("--peer-timeout-max", o.timeout_maximum_ms, "ms; 0 = libenet's 30000")->check(CLI::Range(0u, 1u << 30));
  app.add_option("--peer-rto-cap", o.rto_cap_ms, "ms, --engine volley only: the resend interval stops doubling here")
      ->check(CLI::Range(0u, 1u << 30));
  app.add_option("--step-us", o.step_us,
                 "us, --engine volley only: the swarm's turn; sends leave in bursts of this much of the rate")
      ->check(CLI::Range(10u, 100'000u));
  const support::CliOutcome outcome = support::parse_cli(app, args);
  if (outcome.help) {
    o.help = true;
    parsed.help = app.help();
    return parsed;
  }
  parsed.version = outcome.version;
  if (!parsed.version.empty()) return parsed;
  parsed.error = outcome.error;
  if (!parsed.error.empty()) return parsed;
  for (const auto& [flag, path] : {std::pair{"--report-json", &o.report_json}, std::pair{"--report-html", &o.report_html}}) {
    parsed.error = support::output_path_error(app, flag, *path);
    if (!parsed.error.empty()) return parsed;
  }
  if (o.rto_cap_ms != 0 && o.engine != "volley") {
    parsed.error = "--peer-rto-cap needs --engine volley (libenet's resend interval has no cap)";
    return parsed;
  }
  if (app.count("--step-us") > 0 && o.engine != "volley") {
    parsed.error = "--step-us needs --engine volley (libenet bots take their turn whenever libenet's service returns)";
    return parsed;
  }
  if (o.timeout_minimum_ms != 0 && o.timeout_maximum_ms != 0 && o.timeout_minimum_ms > o.timeout_maximum_ms) {
    parsed.error = "--peer-timeout-min exceeds --peer-timeout-max";
    return parsed;
  }
  s.behavior = o.behavior == "game" ? Behavior::kGame : Behavior::kEcho;
  s.rate_hz = app.count("--rate") > 0 ? rate : (s.behavior == Behavior::kGame ? 30 : 10);
  s.mix = mix == "reliable" ? EchoMix::kReliable : mix == "unreliable" ? EchoMix::kUnreliable : EchoMix::kMixed;
  // Game bots on libenet: each host's socket has libenet's 256 KiB receive buffer, which 1,000
  // bots' snapshots (30 Hz, ~700 B) overflow whenever the one thread is busy for a few ms (the
  // kernel's RcvbufErrors counted ~39k drops in a 60 s run with one host, none with eight).
  const std::size_t per_socket = s.behavior == Behavior::kGame && o.engine == "enet" ? 128 : 4000;
  if (o.sockets == 0) o.sockets = (s.bots + per_socket - 1) / per_socket;
  if (o.sockets > s.bots) o.sockets = s.bots;
  if ((s.bots + o.sockets - 1) / o.sockets > 4095) {
    parsed.error = "--sockets: at most 4,095 bots per socket (ENet peer ids are 12 bits)";
  }
  return parsed;
}

}  // namespace volley::bots
