#include "options.hpp"

#include <arpa/inet.h>

#include <cmath>

#include "volley/support/cli.hpp"

namespace volley::attack {

Parsed parse_options(const std::vector<std::string>& args) {
  Parsed parsed;
  Options& o = parsed.options;
  std::string mode = "connect";
  CLI::App app("volley-flood: forged CONNECTs or garbage from random 127.0.0.0/8 sources (docs/attacks.md)",
               "volley-flood");
  app.add_option("--server", o.server, "numeric IPv4 ADDR:PORT")->required();
  app.add_option("--mode", mode)->check(CLI::IsMember({"connect", "garbage"}));
  app.add_option("--rate", o.rate, "datagrams per second; 0 = as fast as possible")->check(CLI::Range(0.0, 1e8));
  app.add_option("--seconds", o.seconds)->check(CLI::Range(0.1, 86400.0));
  app.add_option("--sources", o.sources, "forged sockets open at once")->check(CLI::Range(1, 4096));
  app.add_option("--rotate", o.rotate, "datagrams per forged source before it is replaced")
      ->check(CLI::Range(1, 1'000'000));
  app.add_option("--corpus", o.corpus, "garbage: directory of real datagrams to mutate");
  app.add_option("--sessions", o.sessions, "garbage: real connections the garbage is sent through")
      ->check(CLI::Range(0, 1024));
  app.add_option("--session-share", o.session_share, "garbage: share sent through those connections")
      ->check(CLI::Range(0.0, 1.0));
  app.add_option("--seed", o.seed);
  app.add_option("--report-json", o.report_json);
  const support::CliOutcome outcome = support::parse_cli(app, args);
  if (outcome.help) {
    parsed.help = app.help();
    return parsed;
  }
  parsed.error = outcome.error;
  if (!parsed.error.empty()) return parsed;
  o.mode = mode == "garbage" ? FloodMode::kGarbage : FloodMode::kConnect;
  if (o.mode == FloodMode::kGarbage && o.corpus.empty()) {
    parsed.error = "--mode garbage needs --corpus DIR";
    return parsed;
  }
  // Silently ignored otherwise: a connect flood has no corpus and no sessions.
  for (const char* flag : {"--corpus", "--sessions", "--session-share"}) {
    if (o.mode == FloodMode::kConnect && app.count(flag) > 0) {
      parsed.error = std::string(flag) + " applies to --mode garbage only";
      return parsed;
    }
  }
  parsed.error = support::output_path_error(app, "--report-json", o.report_json);
  if (!parsed.error.empty()) return parsed;
  const std::size_t colon = o.server.rfind(':');
  in_addr addr{};
  const std::string port = colon == std::string::npos ? "" : o.server.substr(colon + 1);
  if (colon == std::string::npos || inet_pton(AF_INET, o.server.substr(0, colon).c_str(), &addr) != 1 ||
      port.empty() || port.size() > 5 || port.find_first_not_of("0123456789") != std::string::npos ||
      std::stoul(port) == 0 || std::stoul(port) > 65535) {
    parsed.error = "--server expects a numeric IPv4 ADDR:PORT (127.0.0.1:7000), got '" + o.server + "'";
    return parsed;
  }
  o.server_ip = ntohl(addr.s_addr);
  o.server_port = static_cast<std::uint16_t>(std::stoul(port));
  return parsed;
}

}  // namespace volley::attack
