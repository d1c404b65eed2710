// volley-netsim's flags on CLI11 (volley/support/cli.hpp). Symmetric flags are applied first
// and per-direction ones after, so `--up-loss 0.1 --loss 0.02` means 10% up and 2% down.
#include "options.hpp"

#include <array>
#include <charconv>
#include <cmath>
#include <functional>
#include <string_view>
#include <vector>

#include "volley/support/cli.hpp"

namespace volley::netsim {

const char* const kNetsimUsage =
    "usage: volley-netsim --listen ADDR:PORT --upstream ADDR:PORT [impairments] [options]\n"
    "A UDP proxy: clients send to --listen, netsim forwards to --upstream from one socket per\n"
    "client address, impairing both directions. Each impairment X below is --X (both\n"
    "directions), --up-X (client to server) or --down-X (server to client; overrides --X).\n"
    "  --loss P                    independent loss probability (0..1)\n"
    "  --burst-loss ENTER,EXIT[,L] Gilbert-Elliott: P(good->bad), P(bad->good) per datagram,\n"
    "                              loss probability L while bad (default 1); mean burst 1/EXIT\n"
    "  --latency MS                one-way delay (default 0)\n"
    "  --jitter MS                 extra uniform delay in [0, MS]\n"
    "  --duplicate P               probability of a second copy\n"
    "  --reorder P                 probability of an extra --reorder-delay (later ones pass it)\n"
    "  --reorder-delay MS          (default 15)\n"
    "  --rate KBPS                 bandwidth cap in kilobits/s (0: none)\n"
    "  --queue BYTES               the cap's queue; datagrams that overflow it drop (default 65536)\n"
    "  --max-held N                datagrams held (delayed) at once per direction (default 100000)\n"
    "options:\n"
    "  --seed S                    the impairment schedule's seed (default 1)\n"
    "  --seconds T                 stop after T seconds (default: at SIGINT/SIGTERM)\n"
    "  --report-json PATH          write the counters as one JSON object at the end\n"
    "  --max-clients N             client addresses served at once (default 10000)\n"
    "  --idle-timeout S            forget a client silent this long both ways (default 60)\n"
    "  --backend auto|io_uring|epoll|iocp\n"
    "Prints 'listening ADDR:PORT' when ready and a table of what it did per direction at the end.\n";

namespace {

// One impairment flag in its three spellings; `apply` writes a parsed value into an Impairment.
struct DirectionalFlag {
  const char* name;
  std::function<std::optional<std::string>(const std::string&, Impairment&)> apply;
  std::array<std::string, 3> values{};  // both, up, down
};

std::optional<double> to_double(const std::string& text) {
  double value = 0;
  const char* end = text.data() + text.size();
  const auto [ptr, ec] = std::from_chars(text.data(), end, value);
  if (ec != std::errc() || ptr != end || !std::isfinite(value)) return std::nullopt;
  return value;
}

std::function<std::optional<std::string>(const std::string&, Impairment&)> probability(double Impairment::*field) {
  return [field](const std::string& text, Impairment& imp) -> std::optional<std::string> {
    const auto v = to_double(text);
    if (!v || *v < 0 || *v > 1) return "a probability in 0..1";
    imp.*field = *v;
    return std::nullopt;
  };
}

std::function<std::optional<std::string>(const std::string&, Impairment&)> milliseconds(TimePoint Impairment::*field) {
  return [field](const std::string& text, Impairment& imp) -> std::optional<std::string> {
    const auto v = to_double(text);
    if (!v || *v < 0 || *v > 600'000) return "milliseconds in 0..600000";
    imp.*field = static_cast<TimePoint>(std::llround(*v * kMillisecond));
    return std::nullopt;
  };
}

std::optional<std::string> burst(const std::string& text, Impairment& imp) {
  std::vector<double> parts;
  std::size_t start = 0;
  while (start <= text.size()) {
    const std::size_t comma = text.find(',', start);
    const auto v = to_double(text.substr(start, comma == std::string::npos ? std::string::npos : comma - start));
    if (!v || *v < 0 || *v > 1) return "ENTER,EXIT[,LOSS], each a probability in 0..1";
    parts.push_back(*v);
    if (comma == std::string::npos) break;
    start = comma + 1;
  }
  if (parts.size() < 2 || parts.size() > 3) return "ENTER,EXIT[,LOSS], each a probability in 0..1";
  if (parts[0] > 0 && parts[1] <= 0) return "an EXIT above 0 (a burst must be able to end)";
  imp.burst_enter = parts[0];
  imp.burst_exit = parts[1];
  imp.burst_loss = parts.size() == 3 ? parts[2] : 1.0;
  return std::nullopt;
}

std::optional<std::string> rate(const std::string& text, Impairment& imp) {
  const auto v = to_double(text);
  if (!v || *v < 0 || *v > 1e8) return "kilobits per second in 0..100000000";
  imp.rate_bytes_per_s = *v * 1000.0 / 8.0;
  return std::nullopt;
}

std::optional<std::string> queue(const std::string& text, Impairment& imp) {
  const auto v = to_double(text);
  if (!v || *v < 1 || *v > 1e9 || std::floor(*v) != *v) return "bytes in 1..1000000000";
  imp.rate_queue_bytes = static_cast<std::size_t>(*v);
  return std::nullopt;
}

std::optional<std::string> held(const std::string& text, Impairment& imp) {
  const auto v = to_double(text);
  if (!v || *v < 1 || *v > 1e7 || std::floor(*v) != *v) return "a count in 1..10000000";
  imp.max_in_flight = static_cast<std::size_t>(*v);
  return std::nullopt;
}

// The proxy's defaults differ from the model's (which suit the simulation tests): no delay
// unless asked, and a bounded number of held datagrams.
Impairment proxy_defaults() {
  Impairment imp;
  imp.latency = 0;
  imp.max_in_flight = 100'000;
  return imp;
}


}  // namespace

ParsedNetsimOptions parse_netsim_options(std::span<const std::string> args) {
  NetsimOptions options;
  std::string listen;
  std::string upstream;
  std::string backend = "auto";
  CLI::App app("volley-netsim");
  app.option_defaults()->always_capture_default(false);
  app.add_option("--listen", listen)->required();
  app.add_option("--upstream", upstream)->required();
  std::string seed;
  app.add_option("--seed", seed);
  app.add_option("--seconds", options.seconds)->check(CLI::Range(0.0, 1e9));
  app.add_option("--report-json", options.report_json);
  app.add_option("--max-clients", options.max_clients)->check(CLI::Range(1, 1'000'000));
  app.add_option("--idle-timeout", options.idle_timeout_s)->check(CLI::Range(0.001, 1e7));
  app.add_option("--backend", backend);

  std::vector<DirectionalFlag> flags;
  flags.push_back({"loss", probability(&Impairment::loss)});
  flags.push_back({"burst-loss", burst});
  flags.push_back({"latency", milliseconds(&Impairment::latency)});
  flags.push_back({"jitter", milliseconds(&Impairment::jitter)});
  flags.push_back({"duplicate", probability(&Impairment::duplicate)});
  flags.push_back({"reorder", probability(&Impairment::reorder)});
  flags.push_back({"reorder-delay", milliseconds(&Impairment::reorder_delay)});
  flags.push_back({"rate", rate});
  flags.push_back({"queue", queue});
  flags.push_back({"max-held", held});
  static constexpr std::array<const char*, 3> kPrefixes = {"--", "--up-", "--down-"};
  for (DirectionalFlag& flag : flags) {
    for (std::size_t d = 0; d < 3; ++d) app.add_option(std::string(kPrefixes[d]) + flag.name, flag.values[d]);
  }

  const support::CliOutcome outcome = support::parse_cli(app, args);
  if (outcome.help) {
    options.help = true;
    return {options, {}};
  }
  if (!outcome.error.empty()) return {std::nullopt, outcome.error};

  // 0 would run until a signal, which is what leaving the flag out says.
  if (app.count("--seconds") > 0 && options.seconds <= 0) return {std::nullopt, "--seconds must be a positive number"};
  if (std::string e = support::output_path_error(app, "--report-json", options.report_json); !e.empty())
    return {std::nullopt, e};
  const auto l = engine::Address::parse(listen);
  if (!l) return {std::nullopt, "--listen: expected ADDR:PORT (e.g. 0.0.0.0:7000 or [::]:7000), got '" + listen + "'"};
  const auto u = engine::Address::parse(upstream);
  if (!u || u->port() == 0) {
    return {std::nullopt, "--upstream: expected a numeric ADDR:PORT with a port (e.g. 127.0.0.1:7000 or [::1]:7000), got '" +
                              upstream + "'"};
  }
  options.listen = *l;
  options.upstream = *u;
  const auto b = engine::parse_backend(backend);
  if (!b) return {std::nullopt, "--backend: expected auto, io_uring, epoll or iocp, got '" + backend + "'"};
  options.backend = *b;
  if (app.count("--seed") > 0) {
    const char* end = seed.data() + seed.size();
    const auto [ptr, ec] = std::from_chars(seed.data(), end, options.seed);
    if (ec != std::errc() || ptr != end || seed.empty()) {
      return {std::nullopt, "--seed: expected an unsigned integer, got '" + seed + "'"};
    }
  }

  options.up = proxy_defaults();
  options.down = proxy_defaults();
  // Both directions first, then the per-direction overrides.
  for (std::size_t d = 0; d < 3; ++d) {
    for (const DirectionalFlag& flag : flags) {
      const std::string option = std::string(kPrefixes[d]) + flag.name;
      if (app.count(option) == 0) continue;
      for (Impairment* imp : {&options.up, &options.down}) {
        if ((d == 1 && imp != &options.up) || (d == 2 && imp != &options.down)) continue;
        if (const auto problem = flag.apply(flag.values[d], *imp)) {
          return {std::nullopt, option + ": expected " + *problem + ", got '" + flag.values[d] + "'"};
        }
      }
    }
  }
  return {options, {}};
}

}  // namespace volley::netsim
